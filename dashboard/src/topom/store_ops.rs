//! Writes to the store with Go's log lines and error texts (`topom_cache.go: store*`).

use compat::models::{Group, Proxy, Sentinel, SlotMapping};

use super::{fail, Result, Topom};

impl Topom {
    pub(crate) async fn store_update_slot(&self, m: &SlotMapping) -> Result<()> {
        tracing::warn!("update slot-[{}]:\n{}", m.id, String::from_utf8_lossy(&m.encode()));
        if let Err(e) = self.store.update_slot_mapping(m).await {
            tracing::error!("store: update slot-[{}] failed: {e}", m.id);
            fail!("store: update slot-[{}] failed", m.id);
        }
        self.metrics_slot_write();
        Ok(())
    }

    pub(crate) async fn store_create_group(&self, g: &Group) -> Result<()> {
        tracing::warn!("create group-[{}]:\n{}", g.id, String::from_utf8_lossy(&g.encode()));
        if let Err(e) = self.store.update_group(g).await {
            tracing::error!("store: create group-[{}] failed: {e}", g.id);
            fail!("store: create group-[{}] failed", g.id);
        }
        Ok(())
    }

    pub(crate) async fn store_update_group(&self, g: &Group) -> Result<()> {
        tracing::warn!("update group-[{}]:\n{}", g.id, String::from_utf8_lossy(&g.encode()));
        if let Err(e) = self.store.update_group(g).await {
            tracing::error!("store: update group-[{}] failed: {e}", g.id);
            fail!("store: update group-[{}] failed", g.id);
        }
        Ok(())
    }

    pub(crate) async fn store_remove_group(&self, g: &Group) -> Result<()> {
        tracing::warn!("remove group-[{}]:\n{}", g.id, String::from_utf8_lossy(&g.encode()));
        if let Err(e) = self.store.delete_group(g.id).await {
            tracing::error!("store: remove group-[{}] failed: {e}", g.id);
            fail!("store: remove group-[{}] failed", g.id);
        }
        Ok(())
    }

    pub(crate) async fn store_create_proxy(&self, p: &Proxy) -> Result<()> {
        tracing::warn!("create proxy-[{}]:\n{}", p.token, String::from_utf8_lossy(&p.encode()));
        if let Err(e) = self.store.update_proxy(p).await {
            tracing::error!("store: create proxy-[{}] failed: {e}", p.token);
            fail!("store: create proxy-[{}] failed", p.token);
        }
        Ok(())
    }

    pub(crate) async fn store_update_proxy(&self, p: &Proxy) -> Result<()> {
        tracing::warn!("update proxy-[{}]:\n{}", p.token, String::from_utf8_lossy(&p.encode()));
        if let Err(e) = self.store.update_proxy(p).await {
            tracing::error!("store: update proxy-[{}] failed: {e}", p.token);
            fail!("store: update proxy-[{}] failed", p.token);
        }
        Ok(())
    }

    pub(crate) async fn store_remove_proxy(&self, p: &Proxy) -> Result<()> {
        tracing::warn!("remove proxy-[{}]:\n{}", p.token, String::from_utf8_lossy(&p.encode()));
        if let Err(e) = self.store.delete_proxy(&p.token).await {
            tracing::error!("store: remove proxy-[{}] failed: {e}", p.token);
            fail!("store: remove proxy-[{}] failed", p.token);
        }
        Ok(())
    }

    pub(crate) async fn store_update_sentinel(&self, s: &Sentinel) -> Result<()> {
        tracing::warn!("update sentinel:\n{}", String::from_utf8_lossy(&s.encode()));
        if let Err(e) = self.store.update_sentinel(s).await {
            tracing::error!("store: update sentinel failed: {e}");
            fail!("store: update sentinel failed");
        }
        Ok(())
    }
}
