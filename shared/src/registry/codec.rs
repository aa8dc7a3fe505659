//! Model artifacts on the wire: MessagePack with field names (compact, self-describing, so
//! internally tagged enums such as the forecast methods round-trip) inside gzip.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RegistryError;

/// Encodes a model.
///
/// # Errors
/// [`RegistryError::Codec`] when the model cannot be serialised.
pub fn encode_model<T: Serialize>(model: &T) -> Result<Bytes, RegistryError> {
    let raw = rmp_serde::to_vec_named(model).map_err(|e| RegistryError::Codec(e.to_string()))?;
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 3), Compression::fast());
    gz.write_all(&raw).map_err(|e| RegistryError::Codec(e.to_string()))?;
    Ok(Bytes::from(gz.finish().map_err(|e| RegistryError::Codec(e.to_string()))?))
}

/// Decodes a model written by [`encode_model`].
///
/// # Errors
/// [`RegistryError::Codec`] when the bytes are not such a model.
pub fn decode_model<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RegistryError> {
    let mut raw = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut raw).map_err(|e| RegistryError::Codec(e.to_string()))?;
    rmp_serde::from_slice(&raw).map_err(|e| RegistryError::Codec(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_round_trips_and_garbage_is_an_error() {
        let model = (vec![1.5f32, -2.0], "x".to_owned(), Some(3u64));
        let bytes = encode_model(&model).unwrap();
        let back: (Vec<f32>, String, Option<u64>) = decode_model(&bytes).unwrap();
        assert_eq!(back, model);
        assert!(decode_model::<(Vec<f32>, String)>(b"not gzip").is_err());
    }

    #[test]
    fn internally_tagged_enums_round_trip() {
        let params = crate::forecast::ForecasterParams::default();
        let back: crate::forecast::ForecasterParams = decode_model(&encode_model(&params).unwrap()).unwrap();
        assert_eq!(back, params);
    }
}
