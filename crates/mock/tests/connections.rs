//! Connection hygiene over real sockets: slow and idle connections are closed by the
//! header-read timeout, the connection cap refuses clearly, and other clients keep being
//! served. The only time bounds are generous ceilings on waiting for a close.

#[path = "common/contract.rs"]
mod contract;

use std::time::Duration;

use handshake_mock::MockProvider;
use handshake_profile::Profile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far above any timeout configured here: reaching it means the connection was kept open.
const CEILING: Duration = Duration::from_secs(20);

async fn mock(max_connections: usize, header_read_timeout: Duration) -> MockProvider {
    MockProvider::builder(Profile::builtin("capsule").unwrap())
        .max_connections(max_connections)
        .header_read_timeout(header_read_timeout)
        .start()
        .await
        .unwrap()
}

/// Reads until the server closes the connection; `Err` when it stays open past `CEILING`.
async fn read_until_closed(s: &mut TcpStream) -> Result<Vec<u8>, &'static str> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(CEILING, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    closed
        .map(|()| all)
        .map_err(|_| "the connection stayed open")
}

/// `GET /__handshake/healthz`'s status (200, or the cap's 503), the answer checked against
/// openapi.json.
async fn healthz(mock: &MockProvider) -> u16 {
    match reqwest::get(format!("{}/__handshake/healthz", mock.uri())).await {
        Ok(r) => contract::checked(&reqwest::Method::GET, r)
            .await
            .status()
            .as_u16(),
        Err(e) => panic!("{e:?}"),
    }
}

/// A slowloris: the request line, then one header byte at a time, never the blank line.
async fn slowloris(mock: &MockProvider) -> TcpStream {
    let mut s = TcpStream::connect(mock.addr()).await.unwrap();
    s.write_all(b"GET /__handshake/healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    s
}

#[tokio::test]
async fn a_slowloris_connection_is_closed_and_others_are_served_meanwhile() {
    let mock = mock(64, Duration::from_millis(400)).await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(slowloris(&mock).await);
    }
    let mut dripping = slow.pop().unwrap();
    let drip = tokio::spawn(async move {
        for b in b"x-slow: ".iter().cycle() {
            if dripping.write_all(&[*b]).await.is_err() {
                return dripping;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        unreachable!()
    });
    for _ in 0..10 {
        assert_eq!(healthz(&mock).await, 200, "other clients are served");
    }
    for s in &mut slow {
        read_until_closed(s).await.unwrap();
    }
    // The dripping one too: a byte every 50 ms does not reset the header deadline.
    let mut dripping = tokio::time::timeout(CEILING, drip)
        .await
        .expect("the dripping connection was closed")
        .unwrap();
    read_until_closed(&mut dripping).await.unwrap();
    assert_eq!(healthz(&mock).await, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let mock = mock(64, Duration::from_millis(400)).await;
    let mut s = TcpStream::connect(mock.addr()).await.unwrap();
    s.write_all(b"GET /__handshake/healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Keep-alive: the connection stays usable for a while, then the idle timeout ends it.
    let rest = read_until_closed(&mut s).await.unwrap();
    assert!(rest.is_empty(), "nothing more was sent: {rest:?}");
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_with_an_error_json_and_later_ones_served() {
    let mock = mock(2, Duration::from_secs(30)).await;
    let held_a = slowloris(&mock).await;
    let held_b = slowloris(&mock).await;
    // Both must have been accepted before the third arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut third = TcpStream::connect(mock.addr()).await.unwrap();
    third
        .write_all(b"GET /__handshake/healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8(read_until_closed(&mut third).await.unwrap()).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(answer.contains("retry-after: 1\r\n"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("at most 2"));

    // A slot frees when a connection closes.
    drop(held_a);
    let served = tokio::time::timeout(CEILING, async {
        loop {
            if let Ok(r) = reqwest::get(format!("{}/__handshake/healthz", mock.uri())).await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "a freed slot is used again");
    drop(held_b);
}

#[tokio::test]
async fn the_header_timeout_frees_the_slots_of_slow_clients() {
    let mock = mock(1, Duration::from_millis(300)).await;
    let mut slow = slowloris(&mock).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(healthz(&mock).await, 503, "the only slot is taken");
    read_until_closed(&mut slow).await.unwrap();
    let served = tokio::time::timeout(CEILING, async {
        while healthz(&mock).await != 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.is_ok());
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408_with_an_error_json() {
    let mock = mock(64, Duration::from_millis(400)).await;
    let mut s = TcpStream::connect(mock.addr()).await.unwrap();
    s.write_all(
        b"POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type",
    )
    .await
    .unwrap();
    let answer = String::from_utf8(read_until_closed(&mut s).await.unwrap()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(mock.journal().last().unwrap().status, 408);
    assert_eq!(healthz(&mock).await, 200);
}
