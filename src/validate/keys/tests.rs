//! Checks of the key tables against themselves and the validator.
