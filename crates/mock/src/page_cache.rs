//! Rendered API list pages, kept for the next request that asks for the same page.
//!
//! A mock's records never change while it runs, so a page is fully decided by who asks
//! (the user), the query string and the few headers that shape paging and format. Paging,
//! cursor tags, the `Link` header and the JSON or XML body were half of the API's
//! instructions per request (README, "Benchmarks"); a hit costs a lookup and a few clones of
//! shared bytes. Bounded by construction: at most [`PAGE_CACHE_ENTRIES`] pages of at most
//! [`PAGE_CACHE_BODY_BYTES`] each; when full it is emptied and filled again.

use std::sync::Mutex;

use rustc_hash::FxHashMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use crate::sync::lock;

/// Most pages kept at once.
pub(crate) const PAGE_CACHE_ENTRIES: usize = 256;
/// Largest body kept; a bigger page is rendered every time.
pub(crate) const PAGE_CACHE_BODY_BYTES: usize = 64 * 1024;

/// Everything that decides a rendered page besides the (fixed) records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PageKey {
    pub(crate) user: usize,
    pub(crate) query: String,
    /// The values of the request headers that paging or format read, in a fixed order.
    pub(crate) headers: Vec<Option<HeaderValue>>,
}

/// A rendered page: status, the headers rendering set, the body.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Rendered {
    /// Takes a rendered response apart (its body must be fully in memory, as rendering
    /// makes it) and gives it back whole alongside the copy to keep.
    pub(crate) async fn split(resp: Response) -> (Response, Option<Rendered>) {
        let (parts, body) = resp.into_parts();
        // A rendered body is one buffer already in memory: collecting it cannot fail or wait.
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => b,
            Err(_) => return (Response::from_parts(parts, Body::empty()), None),
        };
        if bytes.len() > PAGE_CACHE_BODY_BYTES {
            return (Response::from_parts(parts, Body::from(bytes)), None);
        }
        let kept = Rendered {
            status: parts.status,
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body: bytes.clone(),
        };
        (Response::from_parts(parts, Body::from(bytes)), Some(kept))
    }

    /// The page as a new response, with room for the headers the caller adds.
    pub(crate) fn response(&self) -> Response {
        let mut resp = Response::new(Body::from(self.body.clone()));
        *resp.status_mut() = self.status;
        let h: &mut HeaderMap = resp.headers_mut();
        h.reserve(self.headers.len() + 6);
        for (k, v) in &self.headers {
            h.append(k.clone(), v.clone());
        }
        resp
    }
}

/// The cache itself: one per mock, shared by its workers.
#[derive(Debug, Default)]
// A non-keyed hash is safe here: the cache holds at most PAGE_CACHE_ENTRIES keys, so no
// choice of query strings can make a lookup walk more than that.
pub(crate) struct PageCache(Mutex<FxHashMap<PageKey, Rendered>>);

impl PageCache {
    pub(crate) fn get(&self, key: &PageKey) -> Option<Response> {
        lock(&self.0).get(key).map(Rendered::response)
    }

    pub(crate) fn put(&self, key: PageKey, page: Rendered) {
        if page.body.len() > PAGE_CACHE_BODY_BYTES || key.query.len() > 2048 {
            return;
        }
        let mut map = lock(&self.0);
        if map.len() >= PAGE_CACHE_ENTRIES {
            map.clear();
        }
        map.insert(key, page);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.0).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> PageKey {
        PageKey {
            user: 0,
            query: format!("page={n}"),
            headers: vec![None],
        }
    }

    fn page(body: &'static [u8]) -> Rendered {
        Rendered {
            status: StatusCode::OK,
            headers: vec![(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn a_hit_gives_back_the_same_status_headers_and_body() {
        let cache = PageCache::default();
        cache.put(key(1), page(b"[1]"));
        let resp = cache.get(&key(1)).expect("hit");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert!(cache.get(&key(2)).is_none());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let cache = PageCache::default();
        for n in 0..PAGE_CACHE_ENTRIES * 3 + 7 {
            cache.put(key(n), page(b"[]"));
            assert!(cache.len() <= PAGE_CACHE_ENTRIES);
        }
        static BIG: [u8; PAGE_CACHE_BODY_BYTES + 1] = [b' '; PAGE_CACHE_BODY_BYTES + 1];
        cache.put(key(usize::MAX), page(&BIG));
        assert!(
            cache.get(&key(usize::MAX)).is_none(),
            "a page over the byte bound is not kept"
        );
    }
}
