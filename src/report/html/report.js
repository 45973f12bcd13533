(function () {
  'use strict';
  // Data: see render_with in src/report/html.rs for the shape.
  var D = JSON.parse(document.getElementById('goc-data').textContent);
  var files = D.files, dirs = D.dirs, setMode = D.mode === 'set';
  var $ = function (id) { return document.getElementById(id); };
  var treeEl = $('tree'), chEl = $('changed'), srcEl = $('src'), headEl = $('filehead');
  var filterEl = $('filter'), tabsEl = $('tabs'), listsEl = $('lists');
  var treeRow = [], dirRow = [], chRow = [];
  var treeOrder = [], chOrder = D.changed ? D.changed.files : [];
  var visible = [];
  var byName = Object.create(null);
  var view = D.changed ? 'changed' : 'all';
  var current = -1;
  var stops = [], stopAt = -1, chgStops = [], chgAt = -1;

  // A CR (CRLF sources) would be parsed as a line break inside the line: drop it.
  var ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '\r': '' };
  function esc(s) { return s.replace(/[&<>"'\r]/g, function (c) { return ESC[c]; }); }
  function base(name) { return name.slice(name.lastIndexOf('/') + 1); }
  function band(pct) { var p = +pct; return p < 50 ? 'p0' : p < 80 ? 'p1' : 'p2'; }
  function figs(x) {
    return '<span class="pct ' + band(x.pct) + '" title="' + x.covered + ' of ' + x.stmts +
      ' statements">' + x.pct + '%</span><span class="bar"><i style="width:' + x.pct + '%"></i></span>';
  }
  function chgText(c) {
    return c.covered + '/' + c.measured + (c.pct === null ? '' : ' (' + c.pct + '%)');
  }

  function buildTree() {
    var h = [];
    // Iterative (a deep tree cannot exhaust the call stack). A directory's frame schedules its
    // subdirectories, then its files, then its closing tags.
    var stack = [['dir', 0, 0]];
    while (stack.length) {
      var fr = stack.pop(), kind = fr[0], d = fr[1], depth = fr[2], n = dirs[d];
      if (kind === 'close') { h.push('</ul></li>'); continue; }
      var pad = 'padding-left:' + (depth * 14) + 'px';
      if (kind === 'files') {
        for (var i = 0; i < n.files.length; i++) {
          var f = n.files[i], fi = files[f];
          h.push('<li class="file" data-f="' + f + '"><div class="row" style="' + pad + '" title="' +
            esc(fi.name) + '"><span class="tw"></span><span class="nm">' + esc(base(fi.name)) + '</span>' +
            (fi.src ? '' : '<span class="tag">source not found</span>') + figs(fi) + '</div></li>');
        }
        continue;
      }
      if (d !== 0) {
        h.push('<li class="dir open" data-d="' + d + '"><div class="row" style="' + pad + '" title="' +
          esc(n.name) + '"><span class="tw"></span><span class="nm">' + esc(n.label) + '/</span>' +
          figs(n) + '</div><ul>');
        stack.push(['close', d, depth]);
      }
      var inner = d === 0 ? 0 : depth + 1;
      stack.push(['files', d, inner]);
      for (var j = n.dirs.length - 1; j >= 0; j--) stack.push(['dir', n.dirs[j], inner]);
    }
    treeEl.innerHTML = '<ul class="tree">' + h.join('') + '</ul>';
    var lis = treeEl.querySelectorAll('li');
    for (var k = 0; k < lis.length; k++) {
      var li = lis[k];
      if (li.hasAttribute('data-f')) {
        treeRow[+li.getAttribute('data-f')] = li;
        treeOrder.push(+li.getAttribute('data-f'));
      } else dirRow[+li.getAttribute('data-d')] = li;
    }
  }

  function buildChanged() {
    var c = D.changed;
    var h = ['<div class="chsum"><b>' + chOrder.length + '</b> changed file' + (chOrder.length === 1 ? '' : 's') +
      ', <b>' + c.lines + '</b> changed lines; measured lines covered: <b>' + chgText(c) + '</b></div>'];
    if (!chOrder.length) h.push('<div class="empty">No changed lines in profiled files.</div>');
    h.push('<ul class="list">');
    for (var i = 0; i < chOrder.length; i++) {
      var f = chOrder[i], fi = files[f], cut = fi.name.lastIndexOf('/') + 1;
      // The base name first: long directory paths get cut, not the file's own name.
      h.push('<li class="file" data-f="' + f + '"><div class="row" style="padding-left:8px" title="' + esc(fi.name) +
        '"><span class="nm">' + esc(fi.name.slice(cut)) + ' <span class="dim">' + esc(fi.name.slice(0, cut)) +
        '</span></span>' + (fi.src ? '' : '<span class="tag">source not found</span>') +
        '<span class="chgf" title="changed lines: covered/measured of ' + fi.chg.lines + ' changed">' +
        fi.chg.covered + '/' + fi.chg.measured + '</span><span class="pct ' +
        (fi.chg.pct === null ? '' : band(fi.chg.pct)) + '">' + (fi.chg.pct === null ? '\u2013' : fi.chg.pct + '%') +
        '</span></div></li>');
    }
    h.push('</ul>');
    chEl.innerHTML = h.join('');
    var lis = chEl.querySelectorAll('li[data-f]');
    for (var k = 0; k < lis.length; k++) chRow[+lis[k].getAttribute('data-f')] = lis[k];
    tabsEl.innerHTML = '<button data-v="changed">Changed files (' + chOrder.length + ')</button>' +
      '<button data-v="all">All files (' + files.length + ')</button>';
    tabsEl.addEventListener('click', function (ev) {
      var b = ev.target.closest('button');
      if (b) setView(b.getAttribute('data-v'));
    });
  }

  function setView(v) {
    if (!D.changed) v = 'all';
    view = v;
    chEl.classList.toggle('hide', v !== 'changed');
    treeEl.classList.toggle('hide', v !== 'all');
    var bs = tabsEl.querySelectorAll('button');
    for (var i = 0; i < bs.length; i++) bs[i].classList.toggle('on', bs[i].getAttribute('data-v') === v);
    if (current >= 0) reveal(current);
  }

  function applyFilter() {
    var terms = filterEl.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var dirOn = new Uint8Array(dirs.length);
    for (var f = 0; f < files.length; f++) {
      var name = files[f].lname, ok = true;
      for (var t = 0; t < terms.length && ok; t++) ok = name.indexOf(terms[t]) >= 0;
      visible[f] = ok;
      if (treeRow[f]) treeRow[f].classList.toggle('hid', !ok);
      if (chRow[f]) chRow[f].classList.toggle('hid', !ok);
      if (ok) for (var d = files[f].dir; d > 0 && !dirOn[d]; d = dirs[d].parent) dirOn[d] = 1;
    }
    for (var k = 1; k < dirs.length; k++) if (dirRow[k]) dirRow[k].classList.toggle('hid', !dirOn[k]);
    treeEl.classList.toggle('filtering', terms.length > 0);
  }

  function order() { return view === 'changed' ? chOrder : treeOrder; }

  function move(step) {
    var o = order(), i = o.indexOf(current);
    for (var j = i < 0 ? (step > 0 ? 0 : o.length - 1) : i + step; j >= 0 && j < o.length; j += step) {
      if (visible[o[j]]) { select(o[j]); return; }
    }
  }

  function reveal(f) {
    var row = view === 'changed' ? chRow[f] : treeRow[f];
    if (view === 'all') for (var d = files[f].dir; d > 0; d = dirs[d].parent) dirRow[d].classList.add('open');
    if (row) {
      var r = row.firstChild.getBoundingClientRect(), box = listsEl.getBoundingClientRect();
      if (r.top < box.top || r.bottom > box.bottom) row.firstChild.scrollIntoView({ block: 'center' });
    }
  }

  var lastHash = '';
  function setHash(f, line) {
    var h = '#file=' + encodeURIComponent(files[f].name) + (line ? '&line=' + line : '');
    lastHash = h;
    try { history.replaceState(null, '', h); } catch (e) { location.replace(h); }
  }

  function select(f, line) {
    if (f < 0 || f >= files.length) return;
    if (current >= 0) {
      if (treeRow[current]) treeRow[current].classList.remove('sel');
      if (chRow[current]) chRow[current].classList.remove('sel');
    }
    current = f;
    if (treeRow[f]) treeRow[f].classList.add('sel');
    if (chRow[f]) chRow[f].classList.add('sel');
    reveal(f);
    renderFile(f);
    setHash(f, line);
    if (line) goLine(line); else $('view').scrollTop = 0;
  }

  function renderHead(f) {
    var fi = files[f], h = '<div class="fn">' + esc(fi.name) + '</div><div class="sub">';
    h += '<span><b class="' + band(fi.pct) + '">' + fi.pct + '%</b> (' + fi.covered + '/' + fi.stmts + ' statements)</span>';
    if (fi.path !== null) h += '<span>' + esc(fi.path) + '</span>';
    if (fi.chg) h += '<span>changed lines covered: <b>' + chgText(fi.chg) + '</b> of ' + fi.chg.lines + ' changed</span>';
    headEl.innerHTML = h + '</div>';
  }

  function tip(count, cls) {
    if (setMode) return cls ? 'covered' : 'not covered';
    return String(count) + (count == 1 ? ' hit' : ' hits');
  }

  function renderFile(f) {
    var fi = files[f];
    renderHead(f);
    stops = []; stopAt = -1; chgStops = []; chgAt = -1;
    var el = fi.src ? $('goc-f' + f) : null;
    if (!el) {
      srcEl.innerHTML = '<p class="nosrc">Source not found in the repository at this commit; ' +
        'the figures above come from the profile alone.</p>';
      return;
    }
    var fd = JSON.parse(el.textContent);
    var t = fd.t, S = fd.s, n = S.length;
    var chg = Object.create(null);
    if (fd.c) for (var c = 0; c < fd.c.length; c++) chg[fd.c[c]] = fd.cs[c];
    var nlines = 1;
    for (var q = t.indexOf('\n'); q >= 0; q = t.indexOf('\n', q + 1)) nlines++;
    // A final newline does not start a line of its own.
    var end = t.length && t.charCodeAt(t.length - 1) === 10 ? t.length - 1 : t.length;
    if (end < t.length) nlines--;
    var h = [], k = 0, ls = 0, line = 1, prevChg = false;
    for (;;) {
      var le = t.indexOf('\n', ls);
      if (le < 0 || le > end) le = end;
      var code = '', p = ls, lc = 0;
      while (k < n && S[k] < le) {
        var s = S[k] > p ? S[k] : p, e = S[k + 1] < le ? S[k + 1] : le, cls = S[k + 2];
        if (s > p) code += esc(t.slice(p, s));
        if (e > s) {
          // An uncovered region starts where an uncovered block follows anything else.
          var stop = cls === 0 && S[k] >= ls && (k === 0 || S[k - 2] !== 0);
          code += '<span class="cov' + cls + (stop ? ' stop' : '') + '" title="' + tip(S[k + 3], cls) + '">' +
            esc(t.slice(s, e)) + '</span>';
          lc |= cls ? 1 : 2;
          p = e;
        }
        if (S[k + 1] <= le) k += 4; else break;
      }
      code += esc(t.slice(p, le));
      var st = chg[line], cl = 'ln' + (lc & 2 ? ' lu' : lc ? ' lc' : '');
      if (st !== undefined) cl += ' chg chg' + st + (prevChg ? '' : ' cstart');
      prevChg = st !== undefined;
      h.push('<div class="' + cl + '" id="L' + line + '"><span class="no">' + line +
        '</span><span class="gut"></span><span class="mk"></span><span class="code">' + code + '</span></div>');
      if (le >= end) break;
      ls = le + 1; line++;
    }
    srcEl.style.setProperty('--nw', String(nlines).length);
    srcEl.innerHTML = h.join('');
    stops = srcEl.querySelectorAll('.stop');
    chgStops = srcEl.querySelectorAll('.cstart');
  }

  function flash(el) {
    el.classList.add('flash');
    setTimeout(function () { el.classList.remove('flash'); }, 900);
  }

  function jump(list, at, step) {
    if (!list.length) return at;
    var i = at + step;
    if (i < 0) i = at < 0 ? list.length - 1 : 0;
    if (i >= list.length) i = list.length - 1;
    list[i].scrollIntoView({ block: 'center' });
    flash(list[i]);
    return i;
  }

  function goLine(line) {
    var el = $('L' + line);
    if (!el) return;
    var old = srcEl.querySelector('.hl');
    if (old) old.classList.remove('hl');
    el.classList.add('hl');
    el.scrollIntoView({ block: 'center' });
  }

  function fromHash() {
    var h = location.hash.slice(1), f = -1, line = 0;
    if (/^file\d+$/.test(h)) f = +h.slice(4); // go tool cover -html's links
    h.split('&').forEach(function (kv) {
      var i = kv.indexOf('='), k = kv.slice(0, i), v = kv.slice(i + 1);
      try { v = decodeURIComponent(v); } catch (e) { return; }
      if (k === 'file' && v in byName) f = byName[v];
      if (k === 'line') line = parseInt(v, 10) || 0;
    });
    return f >= 0 && f < files.length ? [f, line] : null;
  }

  // Setup.
  for (var i = 0; i < files.length; i++) {
    files[i].lname = files[i].name.toLowerCase();
    byName[files[i].name] = i;
    visible[i] = true;
  }
  buildTree();
  if (D.changed) buildChanged();
  setView(view);

  function onListClick(ev) {
    var row = ev.target.closest('.row');
    if (!row) return;
    var li = row.parentNode;
    if (li.hasAttribute('data-d')) li.classList.toggle('open');
    else select(+li.getAttribute('data-f'));
  }
  treeEl.addEventListener('click', onListClick);
  chEl.addEventListener('click', onListClick);
  filterEl.addEventListener('input', applyFilter);
  srcEl.addEventListener('click', function (ev) {
    if (!ev.target.classList.contains('no') || current < 0) return;
    var line = +ev.target.textContent;
    setHash(current, line);
    goLine(line);
  });
  window.addEventListener('hashchange', function () {
    if (location.hash === lastHash) return;
    var r = fromHash();
    if (r) select(r[0], r[1]);
  });
  document.addEventListener('keydown', function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target === filterEl) {
      if (ev.key === 'Escape') {
        if (filterEl.value) { filterEl.value = ''; applyFilter(); } else filterEl.blur();
      } else if (ev.key === 'Enter' || ev.key === 'ArrowDown') {
        var o = order();
        for (var j = 0; j < o.length; j++) if (visible[o[j]]) { select(o[j]); break; }
        filterEl.blur();
      } else return;
      ev.preventDefault();
      return;
    }
    var tag = ev.target && ev.target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || tag === 'BUTTON') return;
    switch (ev.key) {
      case 'j': case 'n': move(1); break;
      case 'k': case 'p': move(-1); break;
      case '/': filterEl.focus(); filterEl.select(); break;
      case 'u': stopAt = jump(stops, stopAt, 1); break;
      case 'U': stopAt = jump(stops, stopAt, -1); break;
      case 'c': chgAt = jump(chgStops, chgAt, 1); break;
      case 'C': chgAt = jump(chgStops, chgAt, -1); break;
      case 't': if (D.changed) setView(view === 'changed' ? 'all' : 'changed'); break;
      default: return;
    }
    ev.preventDefault();
  });

  var start = fromHash();
  if (start) select(start[0], start[1]);
  else {
    var first = -1, o = order();
    for (var m = 0; m < o.length && first < 0; m++) if (files[o[m]].src) first = o[m];
    if (first < 0 && o.length) first = o[0];
    if (first >= 0) select(first);
    else { headEl.innerHTML = ''; srcEl.innerHTML = '<p class="nosrc">No files in this profile.</p>'; }
  }
})();
