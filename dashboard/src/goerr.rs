//! Go's wording for failed REST calls (`Get "http://...": dial tcp ...: connect: connection
//! refused`), which the dashboard puts in its own error causes.

use std::time::Duration;

use compat::rest::RestError;

/// The text Go's `net/http` client gives for `e` (a call `method` to `url` on `addr`).
pub async fn rest_error_text(e: &RestError, method: &str, url: &str, addr: &str) -> String {
    match e {
        RestError::Remote(r) => r.cause.clone(),
        RestError::Transport { .. } => {
            let op = match method {
                "GET" => "Get",
                "PUT" => "Put",
                "POST" => "Post",
                other => other,
            };
            // reqwest hides the socket error; ask the socket ourselves to name it as Go does.
            let reason = match tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await
            {
                Err(_) => format!("dial tcp {addr}: i/o timeout"),
                Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                    format!("dial tcp {addr}: connect: connection refused")
                }
                Ok(Err(err)) => format!("dial tcp {addr}: {err}"),
                Ok(Ok(_)) => "EOF".to_string(),
            };
            format!("{op} \"{url}\": {reason}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_like_go() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let api = compat::rest::ApiClient::new(addr.clone());
        let e = api.get::<serde_json::Value>("/api/proxy/model").await.unwrap_err();
        let url = format!("http://{addr}/api/proxy/model");
        assert_eq!(
            rest_error_text(&e, "GET", &url, &addr).await,
            format!("Get \"{url}\": dial tcp {addr}: connect: connection refused")
        );
    }
}
