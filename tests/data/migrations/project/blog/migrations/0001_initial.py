from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("shop", "0002_safe")]

    operations = [
        migrations.CreateModel(
            name="Post",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
            ],
        ),
        migrations.AddField(
            model_name="post",
            name="product",
            field=models.ForeignKey(on_delete=models.deletion.CASCADE, to="shop.product"),
        ),
        migrations.AlterField(model_name="post", name="title", field=models.CharField(max_length=100)),
    ]
