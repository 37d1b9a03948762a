from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_remove_field")]

    operations = [migrations.DeleteModel(name="Coupon")]
