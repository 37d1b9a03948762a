from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0002_safe")]

    operations = [migrations.RemoveField(model_name="product", name="legacy_note")]
