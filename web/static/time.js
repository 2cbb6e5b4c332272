// Shows each time's exact moment in the viewer's own time zone on hover (the
// server only knows UTC). Pages work without it.
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('time[datetime]').forEach(function (el) {
    var d = new Date(el.getAttribute('datetime'));
    if (!isNaN(d.getTime())) {
      el.title = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'long' });
    }
  });
});
