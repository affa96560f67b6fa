#!/usr/bin/env node
// Writes the Kibana saved objects (saved-objects.ndjson) for the kontext contexts index.
// Edit here, then: node plugin/kibana/generate.mjs > plugin/kibana/saved-objects.ndjson
// (test/kibana.test.ts fails when the file and this generator disagree).
//
// Objects: one data view on kontext-contexts* (time field `@timestamp`, the ECS name of a
// context's start), saved searches, Lens visualizations and a dashboard. Where a field has an ECS
// name (user.name, event.outcome, source.ip, ...: src/store/ecs.ts) the objects use it, as Kibana
// and Elastic Security users expect; kontext's own fields serve what ECS has no name for (the
// action sentence, flags, detections, every namespace a context touched). Ids are stable so
// re-importing with overwrite updates them.

const CORE = '8.8.0';
const DATA_VIEW = 'kontext-contexts';
const DATA_VIEW_TITLE = 'kontext-contexts*';
// where kontext's web UI runs; `kontext kibana --ui-url` (import.sh: KONTEXT_UI_URL) rewrites it
const UI_URL = 'http://localhost:8080';
const s = JSON.stringify;

function dataView() {
  return {
    attributes: {
      allowHidden: false,
      fieldAttrs: s({
        'user.name': { customLabel: 'Triggered by' },
        eventCount: { customLabel: 'Events' },
        '@timestamp': { customLabel: 'Start' },
        id: { customLabel: 'Context' },
        cluster: { customLabel: 'Cluster' },
      }),
      // a context's id links to its page in kontext's web UI
      fieldFormatMap: s({
        id: { id: 'url', params: { type: 'a', urlTemplate: `${UI_URL}/context/{{value}}`, labelTemplate: '{{value}}', openLinkInCurrentTab: false } },
      }),
      fields: '[]',
      name: 'kontext contexts',
      runtimeFieldMap: '{}',
      // members are shown by the GraphQL API; Discover lists the summaries
      sourceFilters: s([{ value: 'members' }, { value: 'memberIds' }]),
      timeFieldName: '@timestamp',
      title: DATA_VIEW_TITLE,
      typeMeta: '{}',
    },
    coreMigrationVersion: CORE,
    id: DATA_VIEW,
    managed: false,
    references: [],
    type: 'index-pattern',
    typeMigrationVersion: '8.0.0',
  };
}

const COLUMNS = ['cluster', 'user.name', 'action', 'label', 'outcome', 'eventCount', 'flags', 'namespaces', 'id'];

function search(id, title, description, query, { columns = COLUMNS, sort = [['@timestamp', 'desc']] } = {}) {
  return {
    attributes: {
      columns,
      description,
      grid: {},
      hideChart: false,
      isTextBasedQuery: false,
      kibanaSavedObjectMeta: {
        searchSourceJSON: s({
          query: { query, language: 'kuery' },
          filter: [],
          indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index',
        }),
      },
      sort,
      timeRestore: false,
      title,
    },
    coreMigrationVersion: CORE,
    id,
    managed: false,
    references: [{ id: DATA_VIEW, name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern' }],
    type: 'search',
    typeMigrationVersion: '8.0.0',
  };
}

const LAYER = 'layer1';
const count = { dataType: 'number', isBucketed: false, label: 'Contexts', operationType: 'count', params: {}, scale: 'ratio', sourceField: '___records___' };
const terms = (field, label, size) => ({
  dataType: 'string', isBucketed: true, label, operationType: 'terms', scale: 'ordinal', sourceField: field,
  params: { orderBy: { columnId: 'count', type: 'column' }, orderDirection: 'desc', size, otherBucket: true, missingBucket: false },
});

function lens(id, title, description, columns, columnOrder, visualizationType, visualization, query = '') {
  return {
    attributes: {
      description,
      state: {
        adHocDataViews: {},
        datasourceStates: { formBased: { layers: { [LAYER]: { columnOrder, columns, incompleteColumns: {} } } } },
        filters: [],
        internalReferences: [],
        query: { language: 'kuery', query },
        visualization,
      },
      title,
      visualizationType,
    },
    coreMigrationVersion: CORE,
    id,
    managed: false,
    references: [{ id: DATA_VIEW, name: `indexpattern-datasource-layer-${LAYER}`, type: 'index-pattern' }],
    type: 'lens',
    typeMigrationVersion: '8.9.0',
  };
}

const xyCommon = {
  axisTitlesVisibilitySettings: { x: true, yLeft: true, yRight: true },
  fittingFunction: 'None',
  gridlinesVisibilitySettings: { x: true, yLeft: true, yRight: true },
  labelsOrientation: { x: 0, yLeft: 0, yRight: 0 },
  legend: { isVisible: true, position: 'right' },
  tickLabelsVisibilitySettings: { x: true, yLeft: true, yRight: true },
  valueLabels: 'hide',
};

function overTime() {
  return lens('kontext-lens-contexts-over-time', 'Contexts over time by outcome', 'Contexts started per interval, stacked by outcome.', {
    date: { dataType: 'date', isBucketed: true, label: 'Start', operationType: 'date_histogram', params: { interval: 'auto', includeEmptyRows: true, dropPartials: false }, scale: 'interval', sourceField: '@timestamp' },
    outcome: terms('outcome', 'Outcome', 5),
    count,
  }, ['outcome', 'date', 'count'], 'lnsXY', {
    ...xyCommon,
    layers: [{ accessors: ['count'], layerId: LAYER, layerType: 'data', position: 'top', seriesType: 'bar_stacked', showGridlines: false, splitAccessor: 'outcome', xAccessor: 'date' }],
    preferredSeriesType: 'bar_stacked',
  });
}

function topBar(id, title, description, field, label, size, query = '') {
  return lens(id, title, description, { [field]: terms(field, label, size), count }, [field, 'count'], 'lnsXY', {
    ...xyCommon,
    legend: { isVisible: false, position: 'right' },
    valueLabels: 'show',
    layers: [{ accessors: ['count'], layerId: LAYER, layerType: 'data', position: 'top', seriesType: 'bar_horizontal', showGridlines: false, xAccessor: field }],
    preferredSeriesType: 'bar_horizontal',
  }, query);
}

function flagsPie() {
  return lens('kontext-lens-flags', 'Security flags', 'Contexts per security flag.', { flags: terms('flags', 'Flag', 10), count }, ['flags', 'count'], 'lnsPie', {
    layers: [{ categoryDisplay: 'default', layerId: LAYER, layerType: 'data', legendDisplay: 'show', metrics: ['count'], nestedLegend: false, numberDisplay: 'value', primaryGroups: ['flags'] }],
    shape: 'donut',
  }, 'flags : *');
}

function detectionsBar() {
  return lens('kontext-lens-detections', 'Detections by severity', 'Contexts per detection, stacked by severity (schema/detections, --rules).',
    { name: terms('detections.name', 'Detection', 15), severity: terms('detections.severity', 'Severity', 5), count }, ['name', 'severity', 'count'], 'lnsXY', {
      ...xyCommon,
      legend: { isVisible: true, position: 'right' },
      valueLabels: 'hide',
      layers: [{ accessors: ['count'], layerId: LAYER, layerType: 'data', position: 'top', seriesType: 'bar_horizontal_stacked', showGridlines: false, splitAccessor: 'severity', xAccessor: 'name' }],
      preferredSeriesType: 'bar_horizontal_stacked',
    }, 'detections.name : *');
}

// dashboard controls (options lists on keyword fields of the data view): id → field, title
const CONTROLS = [
  { id: 'kontext-control-cluster', field: 'cluster', title: 'Cluster' },
  { id: 'kontext-control-namespace', field: 'namespaces', title: 'Namespace' },
];

function controlGroup(references) {
  const panels = {};
  CONTROLS.forEach((c, order) => {
    panels[c.id] = { order, width: 'medium', grow: true, type: 'optionsListControl', explicitInput: { id: c.id, fieldName: c.field, title: c.title, selectedOptions: [], enhancements: {} } };
    // Kibana keeps a control's data view as a reference named after the control
    references.push({ id: DATA_VIEW, name: `controlGroup_${c.id}:optionsListDataView`, type: 'index-pattern' });
  });
  return {
    chainingSystem: 'HIERARCHICAL',
    controlStyle: 'oneLine',
    ignoreParentSettingsJSON: s({ ignoreFilters: false, ignoreQuery: false, ignoreTimerange: false, ignoreValidations: false }),
    panelsJSON: s(panels),
    showApplySelections: false,
  };
}

function dashboard(panels) {
  const references = [];
  const panelsJSON = panels.map((p, i) => {
    const idx = String(i + 1);
    references.push({ id: p.obj.id, name: `${idx}:panel_${idx}`, type: p.obj.type });
    return {
      embeddableConfig: { enhancements: {} },
      gridData: { ...p.grid, i: idx },
      panelIndex: idx,
      panelRefName: `panel_${idx}`,
      title: p.obj.attributes.title,
      type: p.obj.type,
    };
  });
  const controls = controlGroup(references);
  return {
    attributes: {
      controlGroupInput: controls,
      description: 'Kubernetes audit contexts per cluster: who did what, what it caused, what failed, what needs a look.',
      kibanaSavedObjectMeta: { searchSourceJSON: s({ query: { query: '', language: 'kuery' }, filter: [] }) },
      optionsJSON: s({ useMargins: true, syncColors: true, syncCursor: true, syncTooltips: true, hidePanelTitles: false }),
      panelsJSON: s(panelsJSON),
      refreshInterval: { pause: false, value: 30000 },
      timeFrom: 'now-24h',
      timeRestore: true,
      timeTo: 'now',
      title: 'kontext: Kubernetes audit contexts',
      version: 1,
    },
    coreMigrationVersion: CORE,
    id: 'kontext-dashboard',
    managed: false,
    references,
    type: 'dashboard',
    typeMigrationVersion: '8.9.0',
  };
}

const byUser = search('kontext-search-by-user', 'Contexts by user', 'Every context, grouped by the user who triggered it (newest first per user).', '',
  { sort: [['user.name', 'asc'], ['@timestamp', 'desc']] });
const failed = search('kontext-search-failed', 'Failed or forbidden contexts', 'Contexts whose trigger failed or was forbidden, or that met 403s.',
  'event.outcome : "failure" or forbidden > 0');
const flagged = search('kontext-search-flagged', 'Flagged contexts (security)', 'Contexts with a security flag: secret reads, exec/attach, RBAC changes, impersonation, privileged pods, ...',
  'flags : *', { columns: ['user.name', 'flags', 'action', 'outcome', 'namespaces', 'source.ip', 'trigger.client', 'id'] });
const rbac = search('kontext-search-rbac', 'RBAC changes', 'Creates, updates and deletes of roles, cluster roles and their bindings.',
  'flags : "rbac-change"', { columns: ['user.name', 'action', 'names', 'outcome', 'trigger.client', 'id'] });

const detected = search('kontext-search-detections', 'Detections (medium and above)', 'Contexts where a detection of severity critical, high or medium fired (Falco-parity and context-aware rules).',
  'detections.severity : ("critical" or "high" or "medium")', { columns: ['user.name', 'detections.name', 'detections.severity', 'action', 'namespaces', 'outcome', 'id'] });

const overTimeVis = overTime();
const usersVis = topBar('kontext-lens-top-users', 'Top users', 'Users who triggered the most contexts.', 'user.name', 'Triggered by', 15);
const actionsVis = topBar('kontext-lens-top-actions', 'Top actions', 'Most frequent actions (trigger labels).', 'label', 'Action', 15);
const namespacesVis = topBar('kontext-lens-top-namespaces', 'Top namespaces', 'Namespaces touched by the most contexts.', 'namespaces', 'Namespace', 10);
const flagsVis = flagsPie();
const detectionsVis = detectionsBar();

const objects = [
  dataView(), byUser, failed, flagged, rbac, detected, overTimeVis, usersVis, actionsVis, namespacesVis, flagsVis, detectionsVis,
  dashboard([
    { obj: overTimeVis, grid: { x: 0, y: 0, w: 32, h: 12 } },
    { obj: flagsVis, grid: { x: 32, y: 0, w: 16, h: 12 } },
    { obj: usersVis, grid: { x: 0, y: 12, w: 16, h: 14 } },
    { obj: actionsVis, grid: { x: 16, y: 12, w: 16, h: 14 } },
    { obj: namespacesVis, grid: { x: 32, y: 12, w: 16, h: 14 } },
    { obj: detectionsVis, grid: { x: 0, y: 26, w: 24, h: 14 } },
    { obj: detected, grid: { x: 24, y: 26, w: 24, h: 14 } },
    { obj: flagged, grid: { x: 0, y: 40, w: 48, h: 14 } },
    { obj: failed, grid: { x: 0, y: 54, w: 48, h: 14 } },
  ]),
];

process.stdout.write(objects.map((o) => JSON.stringify(o)).join('\n') + '\n');
