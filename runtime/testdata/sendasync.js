// Nothing is awaited: the run must still wait for every request.
const base = args[0];
http.get(base + '/delay?ms=100').sendAsync().then(r => console.log('sendAsync', r.status));
fetch(base + '/delay?ms=150').then(r => r.text()).then(t => console.log('fetch', t));
setTimeout(() => {
  // Started from a timer callback, after which the loop has no timers left.
  http.get(base + '/delay?ms=50').sendAsync()
    .then(r => http.get(base + '/delay?ms=20').sendAsync())
    .then(r => console.log('chained', r.status));
}, 10);
