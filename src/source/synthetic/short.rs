//! Short ASCII text held inline, so that random codes, NPIs and instants cost
//! no allocation.

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

/// Up to [`Short::CAP`] bytes of ASCII text held inline: random codes, NPIs
/// and dates cost no allocation.
#[derive(Clone, Copy)]
pub(super) struct Short {
    len: u8,
    buf: [u8; Short::CAP],
}

impl Short {
    /// Room for the longest text built inline, an instant with milliseconds
    /// (29 bytes).
    const CAP: usize = 30;

    pub(super) fn new() -> Self {
        Short {
            len: 0,
            buf: [0; Short::CAP],
        }
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

    /// Appends one ASCII byte; bytes past the capacity are dropped (never
    /// happens with the texts built here).
    pub(super) fn push(&mut self, byte: u8) {
        debug_assert!(byte.is_ascii());
        if usize::from(self.len) < Short::CAP {
            self.buf[usize::from(self.len)] = byte;
            self.len += 1;
        }
    }

    pub(super) fn push_str(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    /// Appends ASCII bytes; those past the capacity are dropped, as in
    /// [`push`](Self::push).
    pub(super) fn push_bytes(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.is_ascii());
        let start = usize::from(self.len);
        let end = (start + bytes.len()).min(Short::CAP);
        self.buf[start..end].copy_from_slice(&bytes[..end - start]);
        self.len = end as u8;
    }

    pub(super) fn push_digits(&mut self, rng: &mut ChaCha8Rng, count: usize) {
        for _ in 0..count {
            self.push(b'0' + rng.gen_range(0..10u8));
        }
    }

    pub(super) fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl Serialize for Short {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
