//! Serving the vendored assets (`crate::assets`): cached for a year, since their URLs carry a
//! content hash.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

pub use crate::assets::version;
use crate::error::AppError;

#[get("/static/{name}")]
pub async fn serve(name: web::Path<String>) -> Result<HttpResponse, AppError> {
    let asset = crate::assets::find(name.as_str())
        .ok_or_else(|| AppError::NotFound("There is no such file.".into()))?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(asset.body))
}

#[get("/favicon.ico")]
pub async fn favicon() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, format!("/static/favicon.svg?v={}", version())))
        .finish()
}
