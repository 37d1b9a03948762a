from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0005_rename_field")]

    operations = [
        migrations.RenameModel(old_name="Supplier", new_name="Vendor"),
        migrations.RenameModel(old_name="Warehouse", new_name="Depot"),
    ]
