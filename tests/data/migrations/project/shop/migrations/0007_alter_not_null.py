from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0006_rename_model")]

    operations = [
        migrations.AlterField(
            model_name="product",
            name="color",
            field=models.CharField(default="black", max_length=20),
            preserve_default=False,
        ),
    ]
