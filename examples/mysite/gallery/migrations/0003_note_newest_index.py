from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0002_jobs_heartbeats_thumbnails"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="note",
            index=models.Index(fields=["created", "id"], name="gallery_note_newest"),
        ),
    ]
