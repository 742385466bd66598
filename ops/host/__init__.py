"""What runs on a stage's admin host (shipped there in the migration bundle), nothing else."""
