from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("streams", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="StreamLogEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("stream_name", models.CharField(max_length=200)),
                ("group_id", models.CharField(max_length=255)),
                ("version", models.BigIntegerField()),
                ("item_id", models.CharField(max_length=255, null=True)),
                ("timestamp", models.BigIntegerField()),
                ("frame", models.TextField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("stream_name", "group_id", "version"),
                        name="unique_stream_log_version",
                    )
                ],
            },
        ),
    ]
