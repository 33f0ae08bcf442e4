// Trend line and group comparison bars of one indicator (ECharts, self-hosted).
(function () {
  "use strict";
  var el = document.getElementById("indicator-chart");
  if (!el || typeof echarts === "undefined") return;
  var data = JSON.parse(el.textContent);
  function val(r) { return r.value === null ? null : r.value; }
  var unit = data.trend.length ? data.trend[0].unit_label : "";
  var trendEl = document.getElementById("chart-trend");
  if (trendEl) {
    var t = echarts.init(trendEl);
    t.setOption({
      title: { text: "逐月趋势", textStyle: { fontSize: 14 } },
      tooltip: {
        trigger: "axis",
        formatter: function (ps) {
          var r = data.trend[ps[0].dataIndex];
          return r.period_label + "<br>" + (r.value === null ? "无数据" : r.value + " " + unit) +
            (r.denominator !== null && r.denominator !== undefined ? "<br>" + r.numerator + " / " + r.denominator : "");
        }
      },
      grid: { left: 48, right: 16, top: 40, bottom: 32 },
      xAxis: { type: "category", data: data.trend.map(function (r) { return r.period; }) },
      yAxis: { type: "value", name: unit },
      series: [{ type: "line", data: data.trend.map(val), connectNulls: false }]
    });
    window.addEventListener("resize", function () { t.resize(); });
  }
  var cmpEl = document.getElementById("chart-compare");
  if (cmpEl) {
    var c = echarts.init(cmpEl);
    c.setOption({
      title: { text: "医共体比较", textStyle: { fontSize: 14 } },
      tooltip: {
        trigger: "axis",
        formatter: function (ps) {
          var r = data.comparison[ps[0].dataIndex];
          return r.unit_name + "<br>" + (r.value === null ? "无数据" : r.value + " " + unit) +
            (r.denominator !== null && r.denominator !== undefined ? "<br>" + r.numerator + " / " + r.denominator : "");
        }
      },
      grid: { left: 48, right: 16, top: 40, bottom: 60 },
      xAxis: { type: "category", data: data.comparison.map(function (r) { return r.unit_name; }),
               axisLabel: { interval: 0, rotate: 20, fontSize: 10 } },
      yAxis: { type: "value", name: unit },
      series: [{ type: "bar", data: data.comparison.map(val) }]
    });
    window.addEventListener("resize", function () { c.resize(); });
  }
})();
