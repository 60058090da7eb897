"""seglake's demo job (jobs/demo.toml) once a month, as of the end of each
month, with every month since start_date backfilled.

Each DAG run is one seglake run: its as_of is the end of the run's data
interval (the features describe the 365 days before it) and its run id
names the interval, so a retried task completes that month's publication
instead of publishing it twice. The worker needs the `seglake` binary on
its PATH and the repository's jobs/, sql/ and reference/ folders side by
side under /opt/seglake (the job names its SQL relative to its own folder);
see README.md. Only Airflow itself is imported (Airflow 2.4+ and 3).

tests/e2e/schedules.rs reads the BashOperator's command from this file
(without importing Airflow), renders its two templates for the first
backfilled month, and runs it against a local lake.
"""

from datetime import datetime, timedelta, timezone

try:  # Airflow 3, or Airflow 2 with the standard provider.
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2.
    from airflow.operators.bash import BashOperator

try:  # Airflow 3.
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.
    from airflow import DAG

# Intervals from one month's start to the next, on Airflow 2 and 3 alike
# (Airflow 3 turns a cron string into a trigger timetable whose intervals
# are empty): ds_nodash is then the month's first day and
# data_interval_end the next month's, e.g. 20251101 and 2025-12-01.
from airflow.timetables.interval import CronDataIntervalTimetable

with DAG(
    dag_id="seglake_demo",
    description="seglake run jobs/demo.toml, as of the end of each month",
    schedule=CronDataIntervalTimetable("0 0 1 * *", timezone="UTC"),
    # The demo bank covers 2025: catch-up runs the months ending 2025-12-01
    # and 2026-01-01, then one run per month.
    start_date=datetime(2025, 11, 1, tzinfo=timezone.utc),
    catchup=True,
    # In order, one at a time: each run publishes the next version of the
    # tables, and a later month must not land before an earlier one.
    max_active_runs=1,
    default_args={
        # A retry keeps the run id (from ds_nodash), so it completes what
        # the failed attempt published rather than publishing again.
        "retries": 2,
        "retry_delay": timedelta(minutes=15),
    },
    tags=["seglake"],
) as dag:
    BashOperator(
        task_id="run",
        # One literal string (the test reads it with ast): only Airflow's
        # Jinja fills it in. --as-of overrides the job's fixed as_of; the
        # lake is on S3 (credentials from the worker's environment).
        bash_command=(
            "seglake run /opt/seglake/jobs/demo.toml"
            " --var lake=s3://seglake-lake/lake"
            ' --as-of "{{ data_interval_end.isoformat() }}"'
            ' --run-id "demo-{{ ds_nodash }}"'
        ),
    )
