from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0010_raw_sql")]

    operations = [
        migrations.AddField(
            model_name="product",
            name="barcode",
            field=models.CharField(default="", max_length=13),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="product",
            name="supplier",
            field=models.ForeignKey(on_delete=models.deletion.PROTECT, to="shop.vendor"),
        ),
    ]
