"""The jobs: the scheduler, the job functions (collect, dispatch, surveys), their runs and status."""
