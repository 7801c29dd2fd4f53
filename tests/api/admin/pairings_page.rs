//! The console's pairings page.
