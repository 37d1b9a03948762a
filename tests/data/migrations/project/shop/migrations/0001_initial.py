from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Category",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
            ],
        ),
        migrations.CreateModel(
            name="Product",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("code", models.CharField(max_length=20)),
                ("summary", models.CharField(max_length=100)),
                ("price", models.DecimalField(decimal_places=2, max_digits=8)),
                ("stock", models.IntegerField(default=0)),
                ("legacy_note", models.TextField(blank=True, null=True)),
                ("colour", models.CharField(max_length=20, null=True)),
                ("old_sku", models.CharField(db_column="sku", max_length=20, null=True)),
                ("category", models.ForeignKey(on_delete=models.deletion.CASCADE, to="shop.category")),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("stock__gte", 0)), name="stock_positive")],
            },
        ),
        migrations.CreateModel(
            name="Coupon",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=20)),
            ],
        ),
        migrations.CreateModel(
            name="Supplier",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
            ],
        ),
        migrations.CreateModel(
            name="Warehouse",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("city", models.CharField(max_length=50)),
            ],
            options={"db_table": "stock_warehouse"},
        ),
        migrations.CreateModel(
            name="CheapProduct",
            fields=[],
            options={"proxy": True},
            bases=("shop.product",),
        ),
    ]
