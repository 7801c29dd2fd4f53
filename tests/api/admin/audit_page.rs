//! The console's audit page and CSV export.
