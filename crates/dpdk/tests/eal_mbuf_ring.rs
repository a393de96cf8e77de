//! EAL without ports: init once, mempools, mbuf editing, SPSC rings between two lcores,
//! closures launched on a worker lcore. One #[test]: EAL initialises once per process.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dpdk::{current_lcore, ring, Eal, Error, Mbuf, Mempool};

#[test]
fn eal_mempool_mbuf_ring_lcores() {
    if !common::can_run("eal_mempool_mbuf_ring_lcores") {
        return;
    }
    let prefix = common::unique("dpdk-rs-eal-");
    let _runtime_dir = common::RuntimeDir(prefix.clone());
    // Two lcores on CPU 0, so the test needs one CPU whatever the machine has.
    let args = common::eal_args(&prefix, &["--lcores=0@0,1@0".to_owned()]);
    let eal = Eal::init(&args).expect("rte_eal_init");

    // EAL initialises once per process: the second call is an error, not undefined behaviour.
    assert_eq!(Eal::init(&args).unwrap_err(), Error::AlreadyInitialized);

    assert_eq!(current_lcore(), Some(eal.main_lcore()));
    assert_eq!(eal.lcore_count(), 2);
    assert_eq!(eal.worker_lcores(), vec![1]);
    assert_eq!(
        std::thread::spawn(current_lcore).join().unwrap(),
        None,
        "a thread EAL did not start has no lcore id"
    );

    mempool_and_mbufs(&eal);
    rings(&eal);
    lcores(&eal);
}

fn mempool_and_mbufs(eal: &Eal) {
    let pool = Mempool::new(eal, "t-pool", 1023, 32, Mempool::DEFAULT_DATA_ROOM, None).unwrap();
    let err = Mempool::new(eal, "t-pool", 1023, 32, Mempool::DEFAULT_DATA_ROOM, None).unwrap_err();
    assert_eq!(
        err,
        Error::Dpdk {
            call: "rte_pktmbuf_pool_create",
            errno: 17 // EEXIST
        },
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("rte_pktmbuf_pool_create failed: File exists"),
        "{err}"
    );

    let mut m = pool.alloc().unwrap();
    assert!(m.is_empty());
    assert_eq!(m.headroom(), 128);
    assert_eq!(m.tailroom(), 2048);
    m.append(4).unwrap().copy_from_slice(&[1, 2, 3, 4]);
    m.prepend(2).unwrap().copy_from_slice(&[0xa, 0xb]);
    assert_eq!(m.data(), &[0xa, 0xb, 1, 2, 3, 4]);
    assert_eq!(
        (m.len(), m.pkt_len(), m.segments(), m.headroom()),
        (6, 6, 1, 126)
    );
    m.adj(1).unwrap();
    m.trim(2).unwrap();
    assert_eq!(m.data(), &[0xb, 1, 2]);
    m.data_mut()[0] = 0xc;
    assert_eq!(m.data(), &[0xc, 1, 2]);
    assert_eq!(
        m.append(4096).unwrap_err(),
        Error::NoRoom {
            op: "append",
            len: 4096
        }
    );
    assert_eq!(
        m.prepend(200).unwrap_err(),
        Error::NoRoom {
            op: "prepend",
            len: 200
        }
    );
    assert_eq!(m.adj(4).unwrap_err(), Error::NoRoom { op: "adj", len: 4 });
    assert_eq!(m.trim(4).unwrap_err(), Error::NoRoom { op: "trim", len: 4 });
    assert_eq!(m.data(), &[0xc, 1, 2], "failed edits change nothing");
    let copy = Mbuf::from_slice(&pool, b"hello").unwrap();
    assert_eq!(copy.data(), b"hello");
    assert_eq!(pool.in_use(), 2);
    drop((m, copy));
    assert_eq!(pool.in_use(), 0, "dropping an Mbuf frees it");

    let mut bulk = Vec::new();
    pool.alloc_bulk(&mut bulk, 16).unwrap();
    assert_eq!((bulk.len(), pool.in_use()), (16, 16));
    bulk.clear();
    assert_eq!(pool.in_use(), 0);

    // Exhaustion is an error naming the call, and the pool recovers.
    let small = Mempool::new(eal, "t-small", 63, 0, 256, None).unwrap();
    let held: Vec<Mbuf> = (0..63).map(|_| small.alloc().unwrap()).collect();
    let err = small.alloc().unwrap_err();
    assert_eq!(
        err,
        Error::Dpdk {
            call: "rte_pktmbuf_alloc",
            errno: 105
        }
    );
    drop(held);
    assert_eq!(small.available(), 63);

    // The last handle frees the pool when none of its mbufs is out, and leaks it otherwise.
    let clone = small.clone();
    drop(small);
    assert!(pool_exists("t-small"), "a clone keeps the pool");
    let outstanding = clone.alloc().unwrap();
    drop(clone);
    assert!(
        pool_exists("t-small"),
        "an mbuf in use keeps the pool (leaked)"
    );
    drop(outstanding);
    drop(pool);
    assert!(!pool_exists("t-pool"), "the last handle frees an idle pool");
}

fn pool_exists(name: &str) -> bool {
    let cname = std::ffi::CString::new(name).unwrap();
    // SAFETY: EAL is initialised; cname is a valid C string; the result is only null-checked.
    !unsafe { dpdk::sys::rte_mempool_lookup(cname.as_ptr()) }.is_null()
}

fn rings(eal: &Eal) {
    // A full ring gives the item back; a dropped ring drops what it still holds.
    let token = Arc::new(());
    let (mut tx, mut rx) = ring::spsc::<Box<Arc<()>>>(eal, "t-boxes", 4, None).unwrap();
    for _ in 0..4 {
        tx.enqueue(Box::new(Arc::clone(&token))).unwrap();
    }
    assert!(tx.enqueue(Box::new(Arc::clone(&token))).is_err());
    assert_eq!(Arc::strong_count(&token), 5);
    assert_eq!(rx.len(), 4);
    assert!(rx.dequeue().is_some());
    assert_eq!(Arc::strong_count(&token), 4);
    let mut burst: Vec<_> = (0..5).map(|_| Box::new(Arc::clone(&token))).collect();
    assert_eq!(tx.enqueue_burst(&mut burst), 1, "one slot was free");
    assert_eq!(burst.len(), 4, "the rest stay with the caller");
    drop(burst);
    drop((tx, rx));
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "the ring's items were dropped with it"
    );
    assert!(
        ring::spsc::<Box<u8>>(eal, "t-boxes", 4, None).is_ok(),
        "the name is free again"
    );
}

fn lcores(eal: &Eal) {
    let pool = Mempool::new(eal, "t-ring-pool", 511, 0, Mempool::DEFAULT_DATA_ROOM, None).unwrap();
    let (mut to_worker, mut worker_in) = ring::spsc::<Mbuf>(eal, "t-to-worker", 64, None).unwrap();
    let (mut worker_out, mut from_worker) =
        ring::spsc::<Mbuf>(eal, "t-from-worker", 64, None).unwrap();
    const N: usize = 200;

    // The worker adds one to each packet's first byte and sends it back, in order.
    let worker = eal
        .remote_launch(1, move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut done = 0;
            let mut batch = Vec::with_capacity(32);
            while done < N && Instant::now() < deadline {
                worker_in.dequeue_burst(&mut batch, 32);
                for m in batch.iter_mut() {
                    m.data_mut()[0] = m.data()[0].wrapping_add(1);
                }
                while !batch.is_empty() && Instant::now() < deadline {
                    done += worker_out.enqueue_burst(&mut batch);
                    std::thread::yield_now();
                }
                std::thread::yield_now();
            }
            (done, current_lcore())
        })
        .unwrap();
    assert!(matches!(
        eal.remote_launch(1, || ()),
        Err(Error::Dpdk {
            call: "rte_eal_remote_launch",
            errno: 16
        }) // EBUSY
    ));

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut pending: Vec<Mbuf> = (0..N)
        .map(|i| Mbuf::from_slice(&pool, &[i as u8, 0xee]).unwrap())
        .collect();
    let mut back = Vec::with_capacity(N);
    while back.len() < N && Instant::now() < deadline {
        to_worker.enqueue_burst(&mut pending);
        from_worker.dequeue_burst(&mut back, N);
        std::thread::yield_now();
    }
    let (done, lcore) = worker.join().unwrap();
    assert_eq!((done, lcore), (N, Some(1)));
    assert_eq!(back.len(), N);
    for (i, m) in back.iter().enumerate() {
        assert_eq!(m.data(), &[(i as u8).wrapping_add(1), 0xee]);
    }
    drop(back);
    assert_eq!(pool.in_use(), 0);

    // A panic on the lcore is caught there and reported; the lcore is usable again.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| eprintln!("(lcore 1 panicked, on purpose)")));
    let panicked = eal
        .remote_launch(1, || panic!("on purpose"))
        .unwrap()
        .join();
    std::panic::set_hook(default_hook);
    assert_eq!(panicked.unwrap_err(), Error::LcorePanicked(1));
    assert_eq!(eal.remote_launch(1, || 7).unwrap().join().unwrap(), 7);
}
