//! TCG event log. (being written)
