"""Scripts behind the demos and reproduced figures; called by the CLI and notebooks (nothing else imports them)."""
