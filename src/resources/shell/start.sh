# shellcheck shell=bash
# Last part of the prelude: load the stat cache; an apply script starts its state journal.
panel_state_load || true
if panel_may_write; then panel_state_begin || panel_fail "cannot start the state journal in $PANEL_JOURNALS"; fi
