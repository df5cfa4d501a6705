//! Running a resolved query: count, order, one page of ids.

use std::cmp::Ordering;

use std::collections::BTreeMap;
use std::sync::Arc;

use rapport_query::{CustomFieldType, Direction, Order, ResolvedQuery, ResolvedSortKey, SortField};
use tantivy::columnar::{Column, ColumnIndex, StrColumn};
use tantivy::query::{intersect_scorers, EnableScoring, Explanation, Query, Scorer, TermQuery, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, Term, TERMINATED};

use crate::encode;
use crate::explain::explain_match;
use crate::lead_docs::{DocBits, LeadDocs, Within};
use crate::schema::{count_column, latest_column};
use crate::translate::Translator;
use crate::{IndexResult, SearchIndex};

/// A search's answer: how many leads match, and the ids of the page asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hits {
    pub total: usize,
    pub ids: Vec<String>,
}

impl SearchIndex {
    /// The organization's leads that match, in the query's order: `total` and the ids of
    /// `skip..skip + limit`.
    pub fn search(&self, organization_id: &str, query: &ResolvedQuery, skip: usize, limit: usize) -> IndexResult<Hits> {
        let searcher = self.reader.searcher();
        let leads = self.lead_docs.for_searcher(&searcher, self.fields.keys)?;
        let translator = Translator {
            fields: &self.fields,
            searcher: &searcher,
            text_custom_fields: &query.text_custom_fields,
            leads: &leads,
        };
        let scoped = OrgScoped {
            org: Term::from_field_text(self.fields.org, organization_id),
            leads: leads.clone(),
            inner: translator.filter(&query.filter, None),
        };
        let weight = scoped.weight(EnableScoring::disabled_from_searcher(&searcher))?;
        self.collect(&translator, weight.as_ref(), query, skip, limit)
    }

    /// Counted and ordered from the columns; only the page's ids are read.
    fn collect(
        &self,
        translator: &Translator,
        weight: &dyn Weight,
        query: &ResolvedQuery,
        skip: usize,
        limit: usize,
    ) -> IndexResult<Hits> {
        let wanted = skip.saturating_add(limit);
        let relevance_weights = match query.order {
            Order::Relevance => {
                let searcher = translator.searcher;
                query
                    .relevance_terms
                    .iter()
                    .map(|(scope, pattern)| {
                        let text = rapport_query::Filter::Text(pattern.clone());
                        let term = match scope {
                            None => text,
                            Some(kind) => rapport_query::Filter::Related(*kind, Box::new(text)),
                        };
                        translator
                            .filter(&term, None)
                            .weight(EnableScoring::disabled_from_searcher(searcher))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            Order::Keys(_) => Vec::new(),
        };
        // Segments are searched on every core at once, in shares of about equal size.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut shares: Vec<(u64, Vec<&SegmentReader>)> = (0..threads).map(|_| (0, Vec::new())).collect();
        let mut segments: Vec<&SegmentReader> = translator.searcher.segment_readers().iter().collect();
        segments.sort_by_key(|s| std::cmp::Reverse(s.max_doc()));
        for segment in segments {
            let lightest = shares
                .iter_mut()
                .min_by_key(|(size, _)| *size)
                .expect("one share at least");
            lightest.0 += u64::from(segment.max_doc());
            lightest.1.push(segment);
        }
        let search_share = |segments: &[&SegmentReader]| -> IndexResult<(usize, Vec<GlobalRow>)> {
            let (mut total, mut rows) = (0, Vec::new());
            for segment in segments {
                let docs = alive_docs(weight, segment)?;
                total += docs.len();
                if wanted == 0 || docs.is_empty() {
                    continue;
                }
                let mut columns =
                    SegmentColumns::open(segment, &translator.leads.of(segment)?, query, &relevance_weights)?;
                for row in columns.best(&docs, wanted) {
                    rows.push(columns.globalize(row)?);
                }
            }
            Ok((total, rows))
        };
        let results: Vec<IndexResult<(usize, Vec<GlobalRow>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .iter()
                .filter(|(_, segments)| !segments.is_empty())
                .map(|(_, segments)| scope.spawn(|| search_share(segments)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        let mut total = 0;
        let mut rows: Vec<GlobalRow> = Vec::new();
        for result in results {
            let (count, found) = result?;
            total += count;
            rows.extend(found);
        }
        rows.sort_unstable();
        let ids = rows.into_iter().skip(skip).take(limit).map(|r| r.id).collect();
        Ok(Hits { total, ids })
    }
}

/// How many candidates [`SegmentColumns::best`] holds at least before it drops those
/// that cannot be in the page: dropping them costs a selection over all it holds.
const MIN_CANDIDATES: usize = 512;

/// Keeps the `wanted` smallest prefixes and those that tie with the last of them (later
/// keys and the id decide between those); returns that last one.
fn keep_best(prefixes: &mut Vec<(Prefix, DocId)>, wanted: usize) -> Prefix {
    let (_, &mut (threshold, _), _) = prefixes.select_nth_unstable(wanted - 1);
    prefixes.retain(|(prefix, _)| *prefix <= threshold);
    threshold
}

/// The organization's leads among the documents a filter matches. Where every lead of a
/// segment is the organization's (the usual case: one organization per installation),
/// the segment's lead documents say it and the organization's postings are not read.
#[derive(Debug)]
struct OrgScoped {
    org: Term,
    leads: LeadDocs,
    inner: Box<dyn Query>,
}

impl Clone for OrgScoped {
    fn clone(&self) -> Self {
        OrgScoped {
            org: self.org.clone(),
            leads: self.leads.clone(),
            inner: self.inner.box_clone(),
        }
    }
}

impl Query for OrgScoped {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let org = TermQuery::new(self.org.clone(), IndexRecordOption::Basic);
        Ok(Box::new(OrgScopedWeight {
            org_term: self.org.clone(),
            org: org.weight(enable_scoring)?,
            leads: self.leads.clone(),
            inner: self.inner.weight(enable_scoring)?,
        }))
    }
}

struct OrgScopedWeight {
    org_term: Term,
    org: Box<dyn Weight>,
    leads: LeadDocs,
    inner: Box<dyn Weight>,
}

impl Weight for OrgScopedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let leads = self.leads.of(reader)?;
        // Every lead document holds one organization term, deleted ones included.
        let org_docs = reader.inverted_index(self.org_term.field())?.doc_freq(&self.org_term)?;
        let inner = self.inner.scorer(reader, boost)?;
        if org_docs as usize == leads.len() {
            Ok(Box::new(Within::new(inner, leads)))
        } else {
            Ok(intersect_scorers(
                vec![self.org.scorer(reader, boost)?, inner],
                reader.num_docs(),
            ))
        }
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_match(self, reader, doc, "OrgScoped")
    }
}

/// The documents of a segment that match and are not deleted, in order.
fn alive_docs(weight: &dyn Weight, segment: &SegmentReader) -> IndexResult<Vec<DocId>> {
    let mut docs = Vec::new();
    let alive = segment.alive_bitset();
    weight.for_each_no_score(segment, &mut |batch| {
        docs.extend(batch.iter().copied().filter(|d| alive.is_none_or(|a| a.is_alive(*d))));
    })?;
    Ok(docs)
}

/// Where one sort key's values come from in a segment.
enum Source {
    Text(Option<TextColumn>),
    /// User ids, sorted by the users' names: each dictionary entry's rank among the names.
    Names {
        column: Option<TextColumn>,
        rank_by_ord: Vec<u64>,
        names: Vec<String>,
    },
    Signed(LeadColumn<i64>),
    Float(LeadColumn<f64>),
    /// The number of relevance terms the lead matches, by term weights' scorers.
    Relevance,
}

impl Source {
    fn names(column: Option<TextColumn>, names: &BTreeMap<String, String>) -> IndexResult<Source> {
        let Some(column) = column else {
            return Ok(Source::Text(None));
        };
        let dictionary = &column.dictionary;
        let mut by_ord = Vec::with_capacity(dictionary.num_terms());
        let mut id = String::new();
        for ord in 0..dictionary.num_terms() as u64 {
            dictionary.ord_to_str(ord, &mut id)?;
            by_ord.push(names.get(&id).cloned().unwrap_or_else(|| rapport_query::fold(&id)));
        }
        let mut sorted = by_ord.clone();
        sorted.sort();
        sorted.dedup();
        let rank_by_ord = by_ord
            .iter()
            .map(|name| sorted.binary_search(name).unwrap_or_default() as u64)
            .collect();
        Ok(Source::Names {
            column: Some(column),
            rank_by_ord,
            names: sorted,
        })
    }
}

/// A column of the lead documents, read by document. Where every lead document has one
/// value and no other document has any (created, updated, counts; names where every lead
/// has one), a lead's value is at its rank among the segment's leads: the column's own
/// index of which documents have a value answers the same, and took a third of a search
/// that orders a million leads.
struct LeadColumn<T> {
    column: Column<T>,
    leads: Option<Arc<DocBits>>,
}

impl<T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static> LeadColumn<T> {
    fn new(column: Column<T>, leads: &Arc<DocBits>) -> LeadColumn<T> {
        // Only lead documents are given these columns (`document.rs`).
        let one_per_lead =
            matches!(column.index, ColumnIndex::Optional(_)) && column.values.num_vals() as usize == leads.len();
        LeadColumn {
            leads: one_per_lead.then(|| leads.clone()),
            column,
        }
    }

    fn first(&self, doc: DocId) -> Option<T> {
        match &self.leads {
            Some(leads) => leads.contains(doc).then(|| self.column.values.get_val(leads.rank(doc))),
            None => self.column.first(doc),
        }
    }
}

/// A dictionary column: its text, and its ordinals.
struct TextColumn {
    dictionary: StrColumn,
    ords: LeadColumn<u64>,
}

struct SegmentColumns {
    keys: Vec<(Source, Direction)>,
    scorers: Vec<Box<dyn tantivy::query::Scorer>>,
    id: StrColumn,
}

/// One key's value in a segment, ordered ascending; `None` sorts last.
type Cell = Option<u64>;

/// The first two cells of a row as numbers that compare as the cells do.
type Prefix = [u128; 2];

/// A missing value in a [`Prefix`]: after every value.
const MISSING: u128 = 1 << 64;

#[derive(PartialEq, Eq)]
struct LocalRow {
    cells: Vec<Cell>,
    id_ord: u64,
    doc: DocId,
}

impl Ord for LocalRow {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_local((&self.cells, self.id_ord), (&other.cells, other.id_ord))
    }
}

fn compare_local((a_cells, a_id): (&[Cell], u64), (b_cells, b_id): (&[Cell], u64)) -> Ordering {
    for (a, b) in a_cells.iter().zip(b_cells) {
        let o = missing_last(a.as_ref(), b.as_ref(), |a, b| a.cmp(b));
        if o != Ordering::Equal {
            return o;
        }
    }
    a_id.cmp(&b_id)
}

impl PartialOrd for LocalRow {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A row comparable across segments: dictionary ordinals replaced by their text.
#[derive(PartialEq, Eq)]
struct GlobalRow {
    cells: Vec<Option<GlobalCell>>,
    id: String,
}

#[derive(PartialEq, Eq)]
enum GlobalCell {
    /// Already in ascending order of the key's direction.
    Number(u64),
    Text(String, Direction),
}

impl Ord for GlobalRow {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.cells.iter().zip(&other.cells) {
            let o = missing_last(a.as_ref(), b.as_ref(), |a, b| match (a, b) {
                (GlobalCell::Number(a), GlobalCell::Number(b)) => a.cmp(b),
                (GlobalCell::Text(a, Direction::Asc), GlobalCell::Text(b, _)) => a.cmp(b),
                (GlobalCell::Text(a, Direction::Desc), GlobalCell::Text(b, _)) => b.cmp(a),
                // One key has one kind of cell.
                (GlobalCell::Number(_), GlobalCell::Text(..)) => Ordering::Less,
                (GlobalCell::Text(..), GlobalCell::Number(_)) => Ordering::Greater,
            });
            if o != Ordering::Equal {
                return o;
            }
        }
        self.id.cmp(&other.id)
    }
}

impl PartialOrd for GlobalRow {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn missing_last<T>(a: Option<&T>, b: Option<&T>, cmp: impl Fn(&T, &T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => cmp(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

impl SegmentColumns {
    fn open(
        segment: &SegmentReader,
        leads: &Arc<DocBits>,
        query: &ResolvedQuery,
        relevance: &[Box<dyn Weight>],
    ) -> IndexResult<Self> {
        let fast = segment.fast_fields();
        let text = |name: &str| -> tantivy::Result<Option<TextColumn>> {
            Ok(fast.str(name)?.map(|dictionary| TextColumn {
                ords: LeadColumn::new(dictionary.ords().clone(), leads),
                dictionary,
            }))
        };
        let signed =
            |name: &str| -> tantivy::Result<Source> { Ok(Source::Signed(LeadColumn::new(fast.i64(name)?, leads))) };
        let mut keys = Vec::new();
        match &query.order {
            Order::Relevance => {
                keys.push((Source::Relevance, Direction::Desc));
                keys.push((signed("updated")?, Direction::Desc));
            }
            Order::Keys(sort_keys) => {
                for ResolvedSortKey { field, direction } in sort_keys {
                    let source = match field {
                        SortField::Name => Source::Text(text("sort_name")?),
                        SortField::Description => Source::Text(text("sort_description")?),
                        SortField::Url => Source::Text(text("sort_url")?),
                        SortField::Status => Source::Text(text("sort_status")?),
                        SortField::Id => Source::Text(text("id")?),
                        SortField::Created => signed("created")?,
                        SortField::Updated => signed("updated")?,
                        SortField::Count(c) => Source::Float(LeadColumn::new(fast.f64(&count_column(*c))?, leads)),
                        SortField::Latest(l) => signed(&latest_column(*l))?,
                        SortField::Custom(custom) => {
                            let column = |kind: &str| text(&format!("sort_custom_{kind}.{}", custom.id));
                            match custom.value_type {
                                CustomFieldType::Number => Source::Text(column("number")?),
                                CustomFieldType::Text | CustomFieldType::Choices => Source::Text(column("text")?),
                                CustomFieldType::Date | CustomFieldType::Datetime => Source::Text(column("date")?),
                                CustomFieldType::User => Source::names(column("user")?, &query.user_sort_names)?,
                            }
                        }
                    };
                    keys.push((source, *direction));
                }
            }
        }
        let scorers = relevance
            .iter()
            .map(|w| w.scorer(segment, 1.0))
            .collect::<Result<Vec<_>, _>>()?;
        let id = fast
            .str("id")?
            .ok_or_else(|| tantivy::TantivyError::SchemaError("the id column is missing".into()))?;
        Ok(SegmentColumns { keys, scorers, id })
    }

    /// The first `wanted` rows of the documents (which come in increasing order).
    ///
    /// Two passes, so that the cost per match is one or two column reads: the first
    /// reads the first two keys of every document and selects (in linear time) those that
    /// can be among the first `wanted`; only those get their other keys and their id. A
    /// bounded heap fed in document order would instead take in nearly every document
    /// when the order follows the documents' (`-updated` on leads added oldest first).
    fn best(&mut self, docs: &[DocId], wanted: usize) -> Vec<LocalRow> {
        if wanted == 0 {
            return Vec::new();
        }
        let leading = self.keys.len().min(2);
        // Candidates stay few: when the buffer fills, only those that can still be among
        // the first `wanted` stay, and a document that sorts after the last of them is
        // not taken at all; a million matches no longer make a million entries to select from.
        let mut room = wanted.saturating_mul(2).max(MIN_CANDIDATES);
        let mut prefixes: Vec<(Prefix, DocId)> = Vec::with_capacity(room.min(docs.len()));
        let mut threshold = [u128::MAX; 2];
        // Relevance scorers move forward only: this pass goes in document order.
        for &doc in docs {
            let mut prefix = [MISSING; 2];
            for (k, slot) in prefix.iter_mut().enumerate().take(leading) {
                *slot = self.cell(k, doc).map_or(MISSING, u128::from);
            }
            if prefix > threshold {
                continue;
            }
            prefixes.push((prefix, doc));
            if prefixes.len() >= room {
                threshold = keep_best(&mut prefixes, wanted);
                // Ties with the last one in all stay; if they fill half the buffer, it grows.
                if prefixes.len() * 2 > room {
                    room = room.saturating_mul(2);
                }
            }
        }
        if prefixes.len() > wanted {
            keep_best(&mut prefixes, wanted);
        }
        let mut rows: Vec<LocalRow> = prefixes
            .into_iter()
            .map(|(prefix, doc)| {
                let mut cells: Vec<Cell> = prefix[..leading]
                    .iter()
                    .map(|&c| (c != MISSING).then_some(c as u64))
                    .collect();
                for k in leading..self.keys.len() {
                    cells.push(self.cell(k, doc));
                }
                let id_ord = self.id.ords().first(doc).unwrap_or(u64::MAX);
                LocalRow { cells, id_ord, doc }
            })
            .collect();
        if rows.len() > wanted {
            rows.select_nth_unstable(wanted - 1);
            rows.truncate(wanted);
        }
        rows
    }

    /// Key `k` of a document, in ascending order of the key's direction.
    fn cell(&mut self, k: usize, doc: DocId) -> Cell {
        let (source, direction) = &self.keys[k];
        let value = match source {
            Source::Text(column) => column.as_ref().and_then(|c| c.ords.first(doc)),
            Source::Names {
                column, rank_by_ord, ..
            } => column
                .as_ref()
                .and_then(|c| c.ords.first(doc))
                .and_then(|ord| rank_by_ord.get(ord as usize).copied()),
            Source::Signed(column) => column.first(doc).map(encode::signed),
            Source::Float(column) => column.first(doc).map(encode::number),
            Source::Relevance => Some(
                self.scorers
                    .iter_mut()
                    .map(|scorer| {
                        if scorer.doc() < doc && scorer.doc() != TERMINATED {
                            scorer.seek(doc);
                        }
                        u64::from(scorer.doc() == doc)
                    })
                    .sum(),
            ),
        }?;
        Some(match direction {
            Direction::Asc => value,
            Direction::Desc => !value,
        })
    }

    /// The row with its text keys and id read from the dictionaries.
    fn globalize(&self, row: LocalRow) -> IndexResult<GlobalRow> {
        let mut cells = Vec::with_capacity(row.cells.len());
        for ((source, direction), cell) in self.keys.iter().zip(row.cells) {
            cells.push(match (source, cell) {
                (_, None) => None,
                (Source::Text(Some(column)), Some(cell)) => {
                    let ord = match direction {
                        Direction::Asc => cell,
                        Direction::Desc => !cell,
                    };
                    let mut text = String::new();
                    column.dictionary.ord_to_str(ord, &mut text)?;
                    Some(GlobalCell::Text(text, *direction))
                }
                (Source::Names { names, .. }, Some(cell)) => {
                    let rank = match direction {
                        Direction::Asc => cell,
                        Direction::Desc => !cell,
                    };
                    Some(GlobalCell::Text(names[rank as usize].clone(), *direction))
                }
                (_, Some(cell)) => Some(GlobalCell::Number(cell)),
            });
        }
        let mut id = String::new();
        if let Some(ord) = self.id.ords().first(row.doc) {
            self.id.ord_to_str(ord, &mut id)?;
        }
        Ok(GlobalRow { cells, id })
    }
}
