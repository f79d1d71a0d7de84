/* hitcounter count.js (docs/embed.md): one hit per view of location.pathname */
(function () {
  try {
    var me = document.currentScript;
    if (!me || !window.fetch) return;
    try { if (localStorage.getItem("hitcounter:ignore") === "1") return; } catch (e) {}
    var api = me.src.replace(/\/count\.js(?:[?#].*)?$/, "");
    var fixed = me.getAttribute("data-path");
    var last = null, first = true;
    var key = function () {
      if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
      return Date.now().toString(36) + Math.random().toString(36).slice(2);
    };
    var fill = function (body) {
      if (!body || typeof body.hits !== "number") return;
      var els = document.querySelectorAll("[data-hitcounter]");
      for (var i = 0; i < els.length; i++) els[i].textContent = String(body.hits);
    };
    var send = function (url, id, retry) {
      fetch(url, {headers: {"Accept": "application/json", "Idempotency-Key": id}, credentials: "omit", keepalive: true})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(fill, function () { if (retry) setTimeout(function () { send(url, id, false); }, 1000); })
        .catch(function () {});
    };
    var view = function () {
      try {
        var path = fixed || location.pathname;
        if (path === last) return;
        last = path;
        var url = api + "/count?path=" + encodeURIComponent(path);
        if (first && document.referrer) url += "&r=" + encodeURIComponent(document.referrer);
        first = false;
        send(url, key(), true);
      } catch (e) {}
    };
    if (!fixed) {
      ["pushState", "replaceState"].forEach(function (name) {
        var original = history[name];
        if (typeof original !== "function") return;
        history[name] = function () {
          var out = original.apply(this, arguments);
          setTimeout(view, 0);
          return out;
        };
      });
      window.addEventListener("popstate", view);
    }
    view();
  } catch (e) {}
})();
