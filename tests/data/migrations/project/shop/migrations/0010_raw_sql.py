from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0009_alter_table")]

    operations = [
        migrations.RunSQL(
            [
                "UPDATE shop_product SET subtitle = 'DROP TABLE is only text here' WHERE subtitle IS NULL",
                "ALTER TABLE shop_product DROP COLUMN summary",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL("ALTER TABLE shop_review RENAME TO shop_comment"),
    ]
