//! The console's synchronisation page.
