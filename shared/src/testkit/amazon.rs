use super::lock;
use crate::kernel::{AmazonOrderId, SellerId};
use crate::orders::{AmazonError, AmazonOrders, FetchedOrder, OrderSearch, OrdersPage};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

/// The Orders API operations the suite calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AmazonOp {
    SearchOrders,
    GetOrder,
    GetOrderReserved,
}

#[derive(Default)]
struct State {
    orders: BTreeMap<SellerId, BTreeMap<AmazonOrderId, FetchedOrder>>,
    /// Errors to answer, per operation and seller, one per call, before any data.
    errors: HashMap<(AmazonOp, SellerId), VecDeque<AmazonError>>,
    calls: HashMap<AmazonOp, u32>,
    searches: Vec<(SellerId, OrderSearch)>,
    /// Page tokens handed out and still valid: token → offset into the search's hits.
    tokens: HashMap<String, usize>,
    issued: u64,
}

/// Stands in for Amazon's Orders API (`OrdersApi`): a scripted Amazon with orders keyed by
/// seller, paged search by last update, configured errors per call and call counts.
#[derive(Default)]
pub struct MemAmazon {
    state: Mutex<State>,
    faults: std::sync::Arc<super::Faults>,
}

impl MemAmazon {
    pub(super) fn with_faults(self, faults: std::sync::Arc<super::Faults>) -> Self {
        Self { faults, ..self }
    }

    /// Amazon holds this update of the order (replacing any earlier one).
    pub fn put(&self, fetched: FetchedOrder) {
        lock(&self.state)
            .orders
            .entry(fetched.order.seller_id.clone())
            .or_default()
            .insert(fetched.order.order_id.clone(), fetched);
    }

    /// The next call of `op` for `seller` fails with `error` (queued: one error per call).
    pub fn fail_next(&self, op: AmazonOp, seller: &SellerId, error: AmazonError) {
        lock(&self.state)
            .errors
            .entry((op, seller.clone()))
            .or_default()
            .push_back(error);
    }

    /// Every page token handed out so far expires: using one is `PageTokenExpired`.
    pub fn expire_page_tokens(&self) {
        lock(&self.state).tokens.clear();
    }

    /// Calls of `op` so far, failed ones included.
    pub fn calls(&self, op: AmazonOp) -> u32 {
        lock(&self.state).calls.get(&op).copied().unwrap_or(0)
    }

    /// The `searchOrders` requests made for `seller`, in order.
    pub fn searches(&self, seller: &SellerId) -> Vec<OrderSearch> {
        lock(&self.state)
            .searches
            .iter()
            .filter(|(s, _)| s == seller)
            .map(|(_, q)| q.clone())
            .collect()
    }

    /// Count the call and answer its scripted error, if one is queued.
    fn begin(&self, op: AmazonOp, seller: &SellerId) -> Result<(), AmazonError> {
        let mut s = lock(&self.state);
        *s.calls.entry(op).or_default() += 1;
        match s
            .errors
            .get_mut(&(op, seller.clone()))
            .and_then(VecDeque::pop_front)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn find(&self, seller: &SellerId, order: &AmazonOrderId) -> Result<FetchedOrder, AmazonError> {
        if self.faults.hit(super::BatchStep::Fetch, order.as_str()) {
            return Err(AmazonError::Transient {
                operation: "getOrder",
                seller_id: seller.clone(),
                detail: "injected (test)".into(),
                attempts: 1,
            });
        }
        lock(&self.state)
            .orders
            .get(seller)
            .and_then(|o| o.get(order))
            .cloned()
            .ok_or_else(|| AmazonError::NotFound {
                operation: "getOrder",
                seller_id: seller.clone(),
            })
    }
}

#[async_trait]
impl AmazonOrders for MemAmazon {
    /// Orders with `updated_after <= last_updated_at < updated_before` (and of one of the
    /// marketplaces, when the order names one), oldest update first, `page_size` a page.
    async fn search_orders(
        &self,
        seller: &SellerId,
        search: &OrderSearch,
    ) -> Result<OrdersPage, AmazonError> {
        lock(&self.state)
            .searches
            .push((seller.clone(), search.clone()));
        self.begin(AmazonOp::SearchOrders, seller)?;
        let mut s = lock(&self.state);
        let start = match &search.page {
            None => 0,
            Some(token) => *s
                .tokens
                .get(token)
                .ok_or_else(|| AmazonError::PageTokenExpired {
                    seller_id: seller.clone(),
                })?,
        };
        let mut hits: Vec<&FetchedOrder> = s
            .orders
            .get(seller)
            .into_iter()
            .flat_map(|o| o.values())
            .filter(|f| {
                let t = f.order.last_updated_at;
                search.updated_after <= t
                    && t < search.updated_before
                    && f.order.marketplace_id.as_ref().is_none_or(|m| {
                        search.marketplace_ids.is_empty() || search.marketplace_ids.contains(m)
                    })
            })
            .collect();
        hits.sort_by_key(|f| (f.order.last_updated_at, f.order.order_id.clone()));
        let size = usize::from(search.page_size.max(1));
        let total = hits.len();
        let orders: Vec<FetchedOrder> = hits.into_iter().skip(start).take(size).cloned().collect();
        let next = start + size;
        let next_page = (next < total).then(|| {
            s.issued += 1;
            let token = format!("page-{}-{next}", s.issued);
            s.tokens.insert(token.clone(), next);
            token
        });
        Ok(OrdersPage {
            orders,
            unreadable: Vec::new(),
            next_page,
        })
    }

    async fn get_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, AmazonError> {
        self.begin(AmazonOp::GetOrder, seller)?;
        self.find(seller, order)
    }

    async fn get_order_reserved(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, AmazonError> {
        self.begin(AmazonOp::GetOrderReserved, seller)?;
        self.find(seller, order)
    }
}
