// Admin pages: recipient-count preview for the broadcast composer, live progress of a send job.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function api(method, url, body) {
    var options = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error(data.error || ("HTTP " + r.status)); }
        return data;
      });
    });
  }

  function segmentOf(form) {
    return {
      scheme: form.scheme.value, district: form.district.value, school_code: form.school_code.value,
      status: form.status.value, window_only: form.window_only.checked ? "1" : ""
    };
  }

  var composer = document.getElementById("composer");
  if (composer) {
    var out = document.getElementById("preview-result");
    var preview = function () {
      out.textContent = "正在统计…";
      api("POST", "/admin/api/segments/preview", segmentOf(composer)).then(function (data) {
        out.textContent = "预计接收人数：" + data.count + " 人（" + data.label + "）";
        out.dataset.count = data.count;
      }).catch(function (e) { out.textContent = "无法统计：" + e.message; });
    };
    document.getElementById("preview-button").addEventListener("click", preview);
  }

  var progress = document.getElementById("job-progress");
  if (progress) {
    var jobId = progress.dataset.job;
    var labels = JSON.parse(progress.dataset.labels || "{}");
    var poll = function () {
      api("GET", "/admin/api/broadcasts/" + encodeURIComponent(jobId)).then(function (p) {
        document.getElementById("job-status").textContent = p.status_label;
        document.getElementById("job-status").dataset.status = p.status;
        document.getElementById("job-bar").style.width = p.percent + "%";
        document.getElementById("job-numbers").textContent =
          "已处理 " + p.finished + " / " + p.total + "（" + p.percent + "%）";
        var rows = Object.keys(p.counts).filter(function (k) { return p.counts[k] > 0; }).map(function (k) {
          return (labels[k] || k) + "：" + p.counts[k];
        });
        document.getElementById("job-counts").textContent = rows.join("　");
        if (p.status === "running" || p.status === "scheduled" || p.status === "paused") {
          setTimeout(poll, 1000);
        } else {
          var cancel = document.getElementById("cancel-form");
          if (cancel) { cancel.hidden = true; }
        }
      }).catch(function () { setTimeout(poll, 3000); });
    };
    poll();
  }
})();
