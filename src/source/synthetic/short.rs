//! Short ASCII text held inline, so that random codes, NPIs and instants cost
//! no allocation.

use arrayvec::ArrayString;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Serialize, Serializer};

/// Fills `slot` with the last `slot.len()` decimal digits of `value`,
/// zero-padded.
pub(super) fn put_digits(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Room for the longest text built inline, an instant with milliseconds
/// (29 bytes).
const CAP: usize = 30;

/// Up to [`CAP`] bytes of ASCII text held inline: random codes, NPIs and
/// instants cost no allocation.
#[derive(Clone, Copy)]
pub(super) struct Short(ArrayString<CAP>);

impl Short {
    pub(super) fn new() -> Self {
        Short(ArrayString::new_const())
    }

    /// `value` in decimal.
    pub(super) fn decimal(value: u32) -> Self {
        let mut digits = [0; 10];
        let width = value.checked_ilog10().unwrap_or(0) as usize + 1;
        put_digits(&mut digits[..width], value);
        let mut text = Short::new();
        text.push_bytes(&digits[..width]);
        text
    }

    pub(super) fn digits(rng: &mut ChaCha8Rng, count: usize) -> Self {
        let mut text = Short::new();
        text.push_digits(rng, count);
        text
    }

    /// Appends one ASCII byte. Like every push here, panics past the
    /// capacity, which no text built here reaches.
    pub(super) fn push(&mut self, byte: u8) {
        debug_assert!(byte.is_ascii());
        self.0.push(char::from(byte));
    }

    pub(super) fn push_str(&mut self, text: &str) {
        self.0.push_str(text);
    }

    /// Appends ASCII bytes.
    pub(super) fn push_bytes(&mut self, bytes: &[u8]) {
        self.push_str(std::str::from_utf8(bytes).expect("ASCII"));
    }

    pub(super) fn push_digits(&mut self, rng: &mut ChaCha8Rng, count: usize) {
        for _ in 0..count {
            self.push(b'0' + rng.gen_range(0..10u8));
        }
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for Short {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
