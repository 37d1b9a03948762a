from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0004_delete_model")]

    operations = [migrations.RenameField(model_name="product", old_name="colour", new_name="color")]
