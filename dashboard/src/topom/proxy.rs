//! Proxies: registration, re-initialisation, removal (`topom_proxy.go`). The dashboard reaches
//! proxies only through their admin REST API, so Go proxies and ours are handled alike.

use compat::models::Proxy;
use compat::rest::ProxyApi;

use super::{fail, Cache, Result, Topom};
use crate::goerr::rest_error_text;

impl Topom {
    async fn fetch_proxy_model(&self, addr: &str, detail: bool) -> Result<(Proxy, ProxyApi)> {
        let api = ProxyApi::new(addr.to_string());
        let p = match api.model().await {
            Ok(p) => p,
            Err(e) if detail => {
                let url = api.api().url("/api/proxy/model");
                fail!("proxy@{addr} fetch model failed, {}", rest_error_text(&e, "GET", &url, addr).await)
            }
            Err(_) => fail!("proxy@{addr} fetch model failed"),
        };
        let c = self.proxy_client(&p);
        if let Err(e) = c.xping().await {
            if detail {
                fail!("proxy@{addr} check xauth failed, {e}");
            }
            fail!("proxy@{addr} check xauth failed");
        }
        Ok((p, c))
    }

    pub async fn create_proxy(&self, addr: &str) -> Result<()> {
        let mut g = self.ctx().await?;
        let method = g.method;
        let c = g.cache_mut();
        let (mut p, api) = self.fetch_proxy_model(addr, true).await?;
        if c.proxy.contains_key(&p.token) {
            fail!("proxy-[{}] already exists", p.token);
        }
        p.id = c.max_proxy_id() + 1;
        c.dirty_proxy(&p.token);
        self.store_create_proxy(&p).await?;
        self.reinit_proxy_in(c, method, &p, &api).await
    }

    pub async fn online_proxy(&self, addr: &str) -> Result<()> {
        let mut g = self.ctx().await?;
        let method = g.method;
        let c = g.cache_mut();
        let (mut p, api) = self.fetch_proxy_model(addr, false).await?;
        c.dirty_proxy(&p.token);
        match c.proxy.get(&p.token) {
            Some(d) => {
                p.id = d.id;
                self.store_update_proxy(&p).await?;
            }
            None => {
                p.id = c.max_proxy_id() + 1;
                self.store_create_proxy(&p).await?;
            }
        }
        self.reinit_proxy_in(c, method, &p, &api).await
    }

    pub async fn remove_proxy(&self, token: &str, force: bool) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let p = c.proxy(token)?.clone();
        if let Err(e) = self.proxy_client(&p).shutdown().await {
            tracing::warn!("proxy-[{token}] shutdown failed, force remove = {force}: {e}");
            if !force {
                fail!("proxy-[{}] shutdown failed", p.token);
            }
        }
        c.dirty_proxy(token);
        self.store_remove_proxy(&p).await
    }

    pub async fn reinit_proxy(&self, token: &str) -> Result<()> {
        let g = self.ctx().await?;
        let c = g.cache();
        let p = c.proxy(token)?.clone();
        let api = self.proxy_client(&p);
        self.reinit_proxy_in(c, g.method, &p, &api).await
    }

    /// Full slot table, start, sentinels: what a (re)started proxy needs to serve.
    async fn reinit_proxy_in(&self, c: &Cache, method: i64, p: &Proxy, api: &ProxyApi) -> Result<()> {
        tracing::warn!("proxy-[{}] reinit:\n{}", p.token, String::from_utf8_lossy(&p.encode()));
        if let Err(e) = api.fill_slots(&c.to_slots(&c.slots, Some(p), method)).await {
            tracing::error!("proxy-[{}] fillslots failed: {e}", p.token);
            fail!("proxy-[{}] fillslots failed", p.token);
        }
        if let Err(e) = api.start().await {
            tracing::error!("proxy-[{}] start failed: {e}", p.token);
            fail!("proxy-[{}] start failed", p.token);
        }
        if let Err(e) = api.set_sentinels(&c.sentinel).await {
            tracing::error!("proxy-[{}] set sentinels failed: {e}", p.token);
            fail!("proxy-[{}] set sentinels failed", p.token);
        }
        Ok(())
    }
}
