"""The data side: template and Claude generators (synth, claude, claude_data), prepare's sources, the gate
and label files, and the real corpora's checks (corpus)."""
