"""The seeded fault suite (`billing faults`, `make faults`): docs/faults.md."""
