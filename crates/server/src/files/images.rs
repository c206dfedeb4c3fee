//! Images: what an upload declared as an image really is, and its thumbnail — decoded with
//! bounds, so that a small file that unpacks to gigabytes (a decompression bomb) is refused
//! from its header, before any pixel is decoded.

use confab_protocol::files::{MAX_IMAGE_PIXELS, THUMBNAIL_PX};
use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::path::Path;

/// Most memory one decode may allocate (an image of [`MAX_IMAGE_PIXELS`] in RGBA fits).
pub(crate) const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// What an upload declared as an image turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inspected {
    /// A PNG, JPEG, GIF or WebP: its real type and a PNG thumbnail.
    Image {
        mime: &'static str,
        thumbnail: Vec<u8>,
    },
    /// More pixels than the server decodes.
    TooLarge { width: u32, height: u32 },
    /// Not an image this server decodes (or a broken one).
    NotImage,
}

fn mime_of(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Png => Some("image/png"),
        ImageFormat::Jpeg => Some("image/jpeg"),
        ImageFormat::Gif => Some("image/gif"),
        ImageFormat::WebP => Some("image/webp"),
        _ => None,
    }
}

/// Reads the image at `path`. Blocking and CPU-heavy: run it off the runtime, one at a time.
pub(crate) fn inspect(path: &Path) -> Inspected {
    let reader = |path: &Path| {
        ImageReader::open(path)
            .and_then(ImageReader::with_guessed_format)
            .ok()
    };
    let Some(probe) = reader(path) else {
        return Inspected::NotImage;
    };
    let Some(mime) = probe.format().and_then(mime_of) else {
        return Inspected::NotImage;
    };
    // The header alone says how big the pixels would be. Reading it allocates nothing, so it
    // runs unbounded: under the default limits a decoder may refuse a bomb's header with an
    // error indistinguishable from a broken file, and the bomb must be named as one.
    let mut probe = probe;
    probe.no_limits();
    let Ok((width, height)) = probe.into_dimensions() else {
        return Inspected::NotImage;
    };
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Inspected::TooLarge { width, height };
    }
    let Some(mut decoder) = reader(path) else {
        return Inspected::NotImage;
    };
    // A header can lie (an animation's frames, a broken file): the decoder is bounded too.
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    decoder.limits(limits);
    let Ok(image) = decoder.decode() else {
        return Inspected::NotImage;
    };
    let small = image.thumbnail(THUMBNAIL_PX, THUMBNAIL_PX);
    let mut png = Cursor::new(Vec::new());
    if small.write_to(&mut png, ImageFormat::Png).is_err() {
        return Inspected::NotImage;
    }
    Inspected::Image {
        mime,
        thumbnail: png.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut file, bytes).expect("write");
        file
    }

    #[test]
    fn a_real_image_gets_a_bounded_thumbnail() {
        let image = image::RgbImage::from_pixel(800, 400, image::Rgb([200, 30, 30]));
        let mut png = Cursor::new(Vec::new());
        image.write_to(&mut png, ImageFormat::Png).expect("encode");
        let file = write(png.get_ref());
        let Inspected::Image { mime, thumbnail } = inspect(file.path()) else {
            panic!("not read as an image");
        };
        assert_eq!(mime, "image/png");
        let thumb = image::load_from_memory(&thumbnail).expect("thumbnail decodes");
        assert_eq!((thumb.width(), thumb.height()), (320, 160));
    }

    #[test]
    fn text_that_claims_to_be_an_image_is_not_one() {
        let file = write(b"<html><script>alert(1)</script></html>");
        assert_eq!(inspect(file.path()), Inspected::NotImage);
    }
}
