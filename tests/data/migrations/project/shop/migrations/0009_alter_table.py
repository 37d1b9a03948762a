from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0008_alter_type")]

    operations = [migrations.AlterModelTable(name="category", table="catalogue_category")]
