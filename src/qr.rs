//! QR codes of ticket codes: SVG for pages (no script, prints sharply), PNG for email (mail
//! clients do not show SVG).

use qrcode::QrCode;
use qrcode::render::svg;

/// The QR code of `text` as an inline `<svg>` element, at least `size` pixels square.
pub fn svg(text: &str, size: u32, title: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::new(text.as_bytes())?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(size, size)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // Drop the XML declaration (not allowed inside HTML) and name the picture for readers.
    let start = image.find("<svg").unwrap_or(0);
    let body = &image[start..];
    let labelled = body.replacen("<svg", &format!(r#"<svg role="img" aria-label="{}""#, escape(title)), 1);
    Ok(labelled)
}

/// The QR code of `text` as a PNG file, at least 300 pixels square.
pub fn png(text: &str) -> Result<Vec<u8>, String> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    let image = code.render::<image::Luma<u8>>().min_dimensions(300, 300).build();
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).map_err(|e| e.to_string())?;
    Ok(bytes.into_inner())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_is_an_inline_element_and_png_a_png() {
        let svg = svg("TIX-ABC", 160, "Ticket 1").expect("svg");
        assert!(svg.starts_with(r#"<svg role="img" aria-label="Ticket 1""#), "{}", &svg[..80]);
        assert!(!svg.contains("<?xml"));
        let png = png("TIX-ABC").expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
