//! The IDX format of LeCun's MNIST files (and Fashion-MNIST): a 4-byte magic
//! `0x00 0x00 <type> <rank>`, `rank` big-endian u32 dimensions, then the data.
//! Files may be gzipped (detected by the gzip magic 1f 8b), as Fashion-MNIST ships.

use std::io::Read;

use crate::error::{LabError, LabResult};

/// Largest decompressed file accepted, so a gzip bomb cannot make us allocate without bound (a
/// raw file's header is checked against the bytes it came with, see `decode_idx`).
const MAX_DECODED_BYTES: usize = 512 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

fn gunzip(name: &str, bytes: &[u8]) -> LabResult<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_DECODED_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| LabError::data(name, format!("gzip stream is corrupt or truncated ({e})")))?;
    if out.len() > MAX_DECODED_BYTES {
        return Err(LabError::data(name, "decompressed file exceeds 512 MiB"));
    }
    Ok(out)
}

/// What a file that is not IDX looks like, from its first bytes, for the message.
fn recognise(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: [(&[u8], &str); 6] = [
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"PK\x03\x04", "a zip archive"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"<", "an HTML or XML document"),
    ];
    SIGNATURES
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, what)| *what)
}

/// The IDX element types (LeCun's format description) other than unsigned byte, by name.
fn element_type(code: u8) -> &'static str {
    match code {
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => "unknown",
    }
}

/// Decode an unsigned-byte IDX array (type 0x08), raw or gzipped.
///
/// The header is checked against the file's length before anything is allocated from it, so a
/// forged count (2^31 - 1 images in a few bytes) is reported as truncation, not attempted.
pub fn decode_idx(name: &str, bytes: &[u8]) -> LabResult<IdxArray> {
    if bytes.is_empty() {
        return Err(LabError::data(name, "the file is empty (0 bytes)"));
    }
    let owned;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        owned = gunzip(name, bytes)?;
        &owned[..]
    } else {
        bytes
    };
    if bytes.len() < 4 {
        return Err(LabError::data(
            name,
            format!("file is {} bytes, too short for an IDX header", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        let what = recognise(bytes)
            .map(|w| format!(": this is {w}, not an IDX file"))
            .unwrap_or_else(|| ": not an IDX file".into());
        return Err(LabError::data(
            name,
            format!(
                "wrong magic number {:02x} {:02x} {:02x} {:02x}{what}",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(LabError::data(
            name,
            format!(
                "IDX element type 0x{:02x} ({}) is not unsigned byte (0x08): the lab reads \
                 8-bit pixels and labels",
                bytes[2],
                element_type(bytes[2])
            ),
        ));
    }
    let rank = bytes[3] as usize;
    if rank == 0 || rank > 4 {
        return Err(LabError::data(
            name,
            format!("IDX rank {rank} is not between 1 and 4"),
        ));
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(LabError::data(
            name,
            "file is truncated inside the IDX header",
        ));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    // u128: four u32 dimensions cannot overflow it.
    let expected: u128 = dims.iter().map(|&d| d as u128).product();
    let body = &bytes[header..];
    if (body.len() as u128) < expected {
        return Err(LabError::data(
            name,
            format!(
                "truncated: the header's dimensions {dims:?} need {expected} bytes of data, the \
                 file has {}",
                body.len()
            ),
        ));
    }
    if (body.len() as u128) > expected {
        return Err(LabError::data(
            name,
            format!(
                "{} unexpected bytes after the data for dimensions {dims:?}",
                body.len() as u128 - expected
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        data: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_raw_and_gzipped() {
        let raw = idx(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let a = decode_idx("raw", &raw).unwrap();
        assert_eq!(a.dims, vec![2, 2, 3]);
        assert_eq!(a.data, (1..=12).collect::<Vec<u8>>());
        assert_eq!(decode_idx("gz", &gzip(&raw)).unwrap(), a);
    }

    fn err_text(bytes: &[u8]) -> String {
        decode_idx("f", bytes).unwrap_err().to_string()
    }

    #[test]
    fn rejects_corrupt_inputs_with_reasons() {
        assert!(err_text(&[0, 0]).contains("too short"));
        assert!(err_text(&[0x50, 0x4b, 3, 4, 0, 0, 0, 0]).contains("wrong magic"));
        assert!(err_text(&[0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]).contains("not unsigned byte"));
        assert!(err_text(&[0, 0, 8, 0]).contains("rank 0"));
        assert!(err_text(&[0, 0, 8, 3, 0, 0]).contains("header"));
        assert!(err_text(&idx(&[3, 2], &[1, 2, 3])).contains("truncated"));
        assert!(err_text(&idx(&[1, 2], &[1, 2, 3])).contains("unexpected bytes"));
        assert!(err_text(&idx(&[u32::MAX, u32::MAX, 16], &[])).contains("truncated"));
        let mut gz = gzip(&idx(&[4], &[1, 2, 3, 4]));
        gz.truncate(gz.len() - 6);
        assert!(err_text(&gz).contains("gzip"));
    }
}
