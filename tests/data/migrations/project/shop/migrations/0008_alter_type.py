from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0007_alter_not_null")]

    operations = [
        migrations.AlterField(model_name="product", name="name", field=models.CharField(max_length=60)),
        migrations.AlterField(model_name="product", name="stock", field=models.BigIntegerField(default=0)),
        migrations.AlterField(model_name="product", name="price", field=models.IntegerField()),
    ]
