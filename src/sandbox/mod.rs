//! The simulated SkinsBack server (being written).
