//! Go's `models.Store`: the cluster models of one product over any coordinator client.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::coordinator::{Client, CoordinatorError};
use crate::models::{paths, Group, Proxy, Sentinel, SlotMapping, Topom, MAX_SLOT_NUM};

/// A failed store operation: the coordinator's error, or a node that is not the JSON expected.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    #[error("decode {path} failed: {source}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn decode<T: serde::de::DeserializeOwned>(path: &str, b: &[u8]) -> Result<T> {
    crate::models::json::from_slice(b).map_err(|source| StoreError::Decode { path: path.to_string(), source })
}

/// `LoadTopom(client, product, must)`: who holds the dashboard lock of `product`.
pub async fn load_topom(client: &dyn Client, product: &str, must: bool) -> Result<Option<Topom>> {
    let path = paths::lock_path(product);
    match client.read(&path, must).await? {
        Some(b) => Ok(Some(decode(&path, &b)?)),
        None => Ok(None),
    }
}

/// One product's models in the coordinator.
#[derive(Clone)]
pub struct Store {
    client: Arc<dyn Client>,
    product: String,
}

impl Store {
    pub fn new(client: Arc<dyn Client>, product: impl Into<String>) -> Store {
        Store { client, product: product.into() }
    }

    pub fn client(&self) -> &Arc<dyn Client> {
        &self.client
    }

    pub fn product(&self) -> &str {
        &self.product
    }

    pub async fn close(&self) -> Result<()> {
        Ok(self.client.close().await?)
    }

    /// Takes the dashboard lock: creates `/codis3/<product>/topom`, failing with
    /// [`CoordinatorError::NodeExists`] when another dashboard (or a stale lock) holds it.
    pub async fn acquire(&self, topom: &Topom) -> Result<()> {
        Ok(self.client.create(&paths::lock_path(&self.product), &topom.encode()).await?)
    }

    /// Releases the dashboard lock (also what `--remove-lock` does).
    pub async fn release(&self) -> Result<()> {
        Ok(self.client.delete(&paths::lock_path(&self.product)).await?)
    }

    pub async fn load_topom(&self, must: bool) -> Result<Option<Topom>> {
        load_topom(self.client.as_ref(), &self.product, must).await
    }

    /// All 1024 mappings; a missing node is an offline slot (`{id, group_id: 0}`), as in Go.
    pub async fn slot_mappings(&self) -> Result<Vec<SlotMapping>> {
        let mut slots = Vec::with_capacity(MAX_SLOT_NUM);
        for sid in 0..MAX_SLOT_NUM as i64 {
            slots.push(self.load_slot_mapping(sid, false).await?.unwrap_or_else(|| SlotMapping::new(sid, 0)));
        }
        Ok(slots)
    }

    pub async fn load_slot_mapping(&self, sid: i64, must: bool) -> Result<Option<SlotMapping>> {
        let path = paths::slot_path(&self.product, sid);
        match self.client.read(&path, must).await? {
            Some(b) => Ok(Some(decode(&path, &b)?)),
            None => Ok(None),
        }
    }

    pub async fn update_slot_mapping(&self, m: &SlotMapping) -> Result<()> {
        Ok(self.client.update(&paths::slot_path(&self.product, m.id), &m.encode()).await?)
    }

    /// Every group, by id.
    pub async fn list_group(&self) -> Result<BTreeMap<i64, Group>> {
        let mut out = BTreeMap::new();
        for path in self.client.list(&paths::group_dir(&self.product), false).await? {
            let b = self.client.read(&path, true).await?.unwrap_or_default();
            let g: Group = decode(&path, &b)?;
            out.insert(g.id, g);
        }
        Ok(out)
    }

    pub async fn load_group(&self, gid: i64, must: bool) -> Result<Option<Group>> {
        let path = paths::group_path(&self.product, gid);
        match self.client.read(&path, must).await? {
            Some(b) => Ok(Some(decode(&path, &b)?)),
            None => Ok(None),
        }
    }

    pub async fn update_group(&self, g: &Group) -> Result<()> {
        Ok(self.client.update(&paths::group_path(&self.product, g.id), &g.encode()).await?)
    }

    pub async fn delete_group(&self, gid: i64) -> Result<()> {
        Ok(self.client.delete(&paths::group_path(&self.product, gid)).await?)
    }

    /// Every proxy, by token.
    pub async fn list_proxy(&self) -> Result<BTreeMap<String, Proxy>> {
        let mut out = BTreeMap::new();
        for path in self.client.list(&paths::proxy_dir(&self.product), false).await? {
            let b = self.client.read(&path, true).await?.unwrap_or_default();
            let p: Proxy = decode(&path, &b)?;
            out.insert(p.token.clone(), p);
        }
        Ok(out)
    }

    pub async fn load_proxy(&self, token: &str, must: bool) -> Result<Option<Proxy>> {
        let path = paths::proxy_path(&self.product, token);
        match self.client.read(&path, must).await? {
            Some(b) => Ok(Some(decode(&path, &b)?)),
            None => Ok(None),
        }
    }

    pub async fn update_proxy(&self, p: &Proxy) -> Result<()> {
        Ok(self.client.update(&paths::proxy_path(&self.product, &p.token), &p.encode()).await?)
    }

    pub async fn delete_proxy(&self, token: &str) -> Result<()> {
        Ok(self.client.delete(&paths::proxy_path(&self.product, token)).await?)
    }

    pub async fn load_sentinel(&self, must: bool) -> Result<Option<Sentinel>> {
        let path = paths::sentinel_path(&self.product);
        match self.client.read(&path, must).await? {
            Some(b) => Ok(Some(decode(&path, &b)?)),
            None => Ok(None),
        }
    }

    pub async fn update_sentinel(&self, s: &Sentinel) -> Result<()> {
        Ok(self.client.update(&paths::sentinel_path(&self.product), &s.encode()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::fs::FsClient;
    use crate::models::{ActionState, GroupServer};

    #[tokio::test]
    async fn models_round_trip_through_the_fs_backend() {
        let root = std::env::temp_dir().join(format!("rcodis-store-{}-{}", std::process::id(), rand::random::<u32>()));
        let client: Arc<dyn Client> = Arc::new(FsClient::new(root.to_str().unwrap()).unwrap());
        let s = Store::new(client, "codis-demo");

        let topom = Topom { token: "t".into(), admin_addr: "127.0.0.1:18080".into(), ..Default::default() };
        s.acquire(&topom).await.unwrap();
        let again = s.acquire(&topom).await.unwrap_err();
        assert!(matches!(again, StoreError::Coordinator(CoordinatorError::NodeExists(_))), "{again}");
        assert_eq!(s.load_topom(true).await.unwrap(), Some(topom.clone()));
        // The bytes on disk are Go's (4-space indented JSON at the Go path).
        assert_eq!(std::fs::read(root.join("data/codis3/codis-demo/topom")).unwrap(), topom.encode());

        let mut m = SlotMapping::new(7, 1);
        m.action.state = ActionState::Pending;
        m.action.target_id = 2;
        s.update_slot_mapping(&m).await.unwrap();
        let all = s.slot_mappings().await.unwrap();
        assert_eq!(all.len(), 1024);
        assert_eq!(all[7], m);
        assert_eq!(all[8], SlotMapping::new(8, 0));

        let g = Group { id: 2, servers: vec![GroupServer::new("127.0.0.1:6381")], ..Default::default() };
        s.update_group(&g).await.unwrap();
        assert_eq!(s.list_group().await.unwrap().get(&2), Some(&g));
        s.delete_group(2).await.unwrap();
        assert!(s.list_group().await.unwrap().is_empty());

        let p = Proxy { id: 1, token: "abc".into(), ..Default::default() };
        s.update_proxy(&p).await.unwrap();
        assert_eq!(s.load_proxy("abc", true).await.unwrap(), Some(p.clone()));
        assert_eq!(s.list_proxy().await.unwrap().len(), 1);
        s.delete_proxy("abc").await.unwrap();

        let sen = Sentinel { servers: vec!["127.0.0.1:26379".into()], out_of_sync: false };
        s.update_sentinel(&sen).await.unwrap();
        assert_eq!(s.load_sentinel(false).await.unwrap(), Some(sen));

        // A corrupt node names its path.
        s.client().update("/codis3/codis-demo/group/group-0003", b"{oops").await.unwrap();
        let e = s.list_group().await.unwrap_err().to_string();
        assert!(e.starts_with("decode /codis3/codis-demo/group/group-0003 failed"), "{e}");

        s.release().await.unwrap();
        assert_eq!(s.load_topom(false).await.unwrap(), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
