//! The nlctrl family: resolving "IPVS" to its family id.

use crate::attr::{Attr, AttrTable, Policy};
use crate::consts::{cmd, ctrl, IPVS_CMD_ATTR_MAX, IPVS_GENL_NAME, IPVS_GENL_VERSION};
use crate::frame::{genl_message, NlMsg, NLM_F_ACK, NLM_F_REQUEST};
use crate::Errno;

const CTRL_POLICY: [Policy; 3] = [Policy::Unspec, Policy::U16, Policy::NulString(15)];

/// What a CTRL_CMD_GETFAMILY asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FamilyQuery {
    Name(String),
    Id(u16),
}

/// Parses the attributes of a GETFAMILY request (`ctrl_getfamily`): a family
/// id or a name must be present, else EINVAL. The kernel looks the id up
/// first and then the name, so with both the name decides.
pub fn parse_getfamily(attrs: &[u8]) -> Result<FamilyQuery, Errno> {
    let t = AttrTable::parse(attrs, &CTRL_POLICY)?;
    if let Some(name) = t.string(ctrl::ATTR_FAMILY_NAME) {
        return Ok(FamilyQuery::Name(name));
    }
    t.u16(ctrl::ATTR_FAMILY_ID).map(FamilyQuery::Id).ok_or(Errno::EINVAL)
}

/// The IPVS operations in the kernel's `ip_vs_genl_ops` order, with whether
/// each has a do and a dump handler.
pub const IPVS_OPS: [(u8, bool, bool); 16] = [
    (cmd::NEW_SERVICE, true, false),
    (cmd::SET_SERVICE, true, false),
    (cmd::DEL_SERVICE, true, false),
    (cmd::GET_SERVICE, true, true),
    (cmd::NEW_DEST, true, false),
    (cmd::SET_DEST, true, false),
    (cmd::DEL_DEST, true, false),
    (cmd::GET_DEST, false, true),
    (cmd::NEW_DAEMON, true, false),
    (cmd::DEL_DAEMON, true, false),
    (cmd::GET_DAEMON, false, true),
    (cmd::SET_CONFIG, true, false),
    (cmd::GET_CONFIG, true, false),
    (cmd::GET_INFO, true, false),
    (cmd::ZERO, true, false),
    (cmd::FLUSH, true, false),
];

/// The attributes of the NEWFAMILY message describing IPVS.
pub fn ipvs_family_attrs(family_id: u16) -> Vec<Attr> {
    let ops = IPVS_OPS
        .iter()
        .enumerate()
        .map(|(i, &(id, doit, dumpit))| {
            let mut flags = ctrl::OP_ADMIN_PERM | ctrl::OP_CAP_HASPOL;
            if doit {
                flags |= ctrl::OP_CAP_DO;
            }
            if dumpit {
                flags |= ctrl::OP_CAP_DUMP;
            }
            Attr::Nest(
                (i + 1) as u16,
                vec![Attr::U32(ctrl::ATTR_OP_ID, u32::from(id)), Attr::U32(ctrl::ATTR_OP_FLAGS, flags)],
            )
        })
        .collect();
    vec![
        Attr::Str(ctrl::ATTR_FAMILY_NAME, IPVS_GENL_NAME.into()),
        Attr::U16(ctrl::ATTR_FAMILY_ID, family_id),
        Attr::U32(ctrl::ATTR_VERSION, u32::from(IPVS_GENL_VERSION)),
        Attr::U32(ctrl::ATTR_HDRSIZE, 0),
        Attr::U32(ctrl::ATTR_MAXATTR, IPVS_CMD_ATTR_MAX),
        Attr::Nest(ctrl::ATTR_OPS, ops),
    ]
}

/// The NEWFAMILY reply to a GETFAMILY request (flags 0 for a do,
/// NLM_F_MULTI for a dump entry).
pub fn newfamily(req: &NlMsg<'_>, flags: u16, family_id: u16) -> Vec<u8> {
    genl_message(ctrl::GENL_ID_CTRL, flags, req.seq, req.pid, ctrl::CMD_NEWFAMILY, ctrl::VERSION, ipvs_family_attrs(family_id))
}

/// A GETFAMILY request for `name`, as libnl's `genl_ctrl_resolve` sends it.
pub fn getfamily_request(name: &str, seq: u32, pid: u32) -> Vec<u8> {
    genl_message(
        ctrl::GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        pid,
        ctrl::CMD_GETFAMILY,
        1,
        vec![Attr::Str(ctrl::ATTR_FAMILY_NAME, name.into())],
    )
}

/// The family id in a NEWFAMILY reply's attributes.
pub fn family_id(attrs: &[u8]) -> Option<u16> {
    AttrTable::parse(attrs, &CTRL_POLICY).ok()?.u16(ctrl::ATTR_FAMILY_ID)
}
