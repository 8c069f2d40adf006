//! SHA-256 as lowercase hex: file hashes, step definitions, cache keys.

use sha2::{Digest, Sha256};

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The hash of `value` as compact JSON, written straight into the hash
/// (no text of it is kept).
pub(crate) fn sha256_hex_of_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    struct Into(Sha256);
    impl std::io::Write for Into {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.update(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Into(Sha256::new());
    // Writing into a hash cannot fail, and the values are plain data.
    let _ = serde_json::to_writer(&mut h, value);
    hex(&h.0.finalize())
}

/// Hash a file without reading it into memory at once.
pub(crate) fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// By table, not `write!("{:02x}")`: every step's definition is hashed at
/// validation, and the formatter cost a tenth of validating 10,000 steps.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vector() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
