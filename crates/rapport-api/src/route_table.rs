//! The route table. Each route is declared once, in the module of its handler, with the
//! OpenAPI operation that documents it (`Routes::new().get(path, handler, Op::new(…))`);
//! the router and the document's `paths` are both built from this table, so a route
//! cannot go undocumented nor an operation unrouted. The few routes that are not API
//! (the web app's files, `/metrics`, CORS preflights) are declared `unlisted`.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;

use crate::openapi::Op;
use crate::AppState;

/// Routes being declared: the router, and each route's path, method and operation.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<Route>,
}

/// One method of one path.
struct Route {
    /// As documented and as Close clients write it (`/api/v1/lead/{id}/`); the router
    /// matches it without the trailing slash, which `strip_trailing_slash` drops from
    /// every request.
    path: String,
    method: Method,
    /// `None`: not part of the API document.
    op: Option<Op>,
}

impl Routes {
    pub fn new() -> Routes {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H, op: Op) -> Routes {
        self.add(Method::GET, path, handler, Some(op))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H, op: Op) -> Routes {
        self.add(Method::POST, path, handler, Some(op))
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H, op: Op) -> Routes {
        self.add(Method::PUT, path, handler, Some(op))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H, op: Op) -> Routes {
        self.add(Method::DELETE, path, handler, Some(op))
    }

    /// A route the API document leaves out.
    pub fn unlisted<H: Handler<T, AppState>, T: 'static>(self, method: Method, path: &str, handler: H) -> Routes {
        self.add(method, path, handler, None)
    }

    fn add<H: Handler<T, AppState>, T: 'static>(
        mut self,
        method: Method,
        path: &str,
        handler: H,
        op: Option<Op>,
    ) -> Routes {
        assert!(
            !self.table.iter().any(|r| r.path == path && r.method == method),
            "{method} {path} is declared twice"
        );
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
        let routed = match path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        // Methods of one path declared apart are merged into its method router.
        self.router = self.router.route(routed, on(filter, handler));
        self.table.push(Route {
            path: path.to_string(),
            method,
            op,
        });
        self
    }

    pub fn fallback<H: Handler<T, AppState>, T: 'static>(mut self, handler: H) -> Routes {
        self.router = self.router.fallback(handler);
        self
    }

    pub fn merge(mut self, other: Routes) -> Routes {
        for route in &other.table {
            assert!(
                !self
                    .table
                    .iter()
                    .any(|r| r.path == route.path && r.method == route.method),
                "{} {} is declared twice",
                route.method,
                route.path
            );
        }
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// The documented routes: path, method and operation, in the order declared.
    pub fn operations(&self) -> impl Iterator<Item = (&str, &Method, &Op)> {
        self.table
            .iter()
            .filter_map(|r| Some((r.path.as_str(), &r.method, r.op.as_ref()?)))
    }

    /// The routes the document leaves out: method and path.
    #[cfg(test)]
    pub fn unlisted_routes(&self) -> impl Iterator<Item = (&Method, &str)> {
        self.table
            .iter()
            .filter(|r| r.op.is_none())
            .map(|r| (&r.method, r.path.as_str()))
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
