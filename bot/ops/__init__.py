"""What operators watch and what keeps several bot processes in step: health, metrics, and
the per-person lock and update ledger they share through Redis."""
