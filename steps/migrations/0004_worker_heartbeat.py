from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("steps", "0003_step_run_started_default"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("worker", models.CharField(max_length=255, unique=True)),
                ("last_seen", models.DateTimeField(db_index=True)),
            ],
            options={
                "ordering": ["-last_seen"],
            },
        ),
    ]
